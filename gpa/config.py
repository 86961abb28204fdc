"""Every config key gpa reads, with its default. `add_gpa_config` is the one entry point."""
from detectron2.config import CfgNode as CN

__all__ = ["add_gpa_config"]


def add_gpa_config(cfg: CN) -> None:
    """Add gpa's keys to a detectron2 config in place (unknown YAML keys still fail)."""
    # ---------------------------------------------------------------- extensions
    # Installed gpa extensions to load before anything is built or a dataset is looked up: names of entry points
    # of the group "gpa.extensions" (see gpa/extensions.py), e.g. ("toy",) for the toy world (gpa_toy/)
    cfg.EXTENSIONS = ()

    # ---------------------------------------------------------------- inputs / data
    cfg.INPUT.DATASET_MAPPER_NAME = "panoptic_lsj"  # training mapper; see gpa/data/mappers/__init__.py
    cfg.INPUT.IMAGE_SIZE = 1024  # large-scale-jitter crop size
    cfg.INPUT.MIN_SCALE = 0.1  # large-scale-jitter smallest scale
    cfg.INPUT.MAX_SCALE = 2.0  # large-scale-jitter largest scale
    cfg.INPUT.SIZE_DIVISIBILITY = 32  # pad each batch to a multiple of this (ConvNeXt stride)
    cfg.DATASETS.CLASS_FILE_OVERRIDES = ()  # "dataset_name=path/to/classes.txt" pairs replacing a dataset's names
    # Removed keys: still accepted in a config file (older saved configs) and ignored with a warning.
    cfg.register_deprecated_key("DATASETS.SEED_DATA_ORDER")  # never read; the data order always follows SEED

    # ---------------------------------------------------------------- CLIP encoder
    cfg.MODEL.CLIP = CN()
    cfg.MODEL.CLIP.MODEL_NAME = "convnext_large_d_320"  # open_clip model name (or a custom config, see below)
    cfg.MODEL.CLIP.PRETRAINED = "laion2b_s29b_b131k_ft_soup"  # open_clip tag, a local .pt/.safetensors, or "" (random)
    cfg.MODEL.CLIP.MODEL_CONFIG_FILES = ()  # extra open_clip model-config JSON files to register before building
    cfg.MODEL.CLIP.CACHE_DIR = ""  # where open_clip downloads weights ("" = its default cache)
    cfg.MODEL.CLIP.FREEZE_ENCODER = True  # False = full fine-tuning baseline
    cfg.MODEL.CLIP.PROMPT_TEMPLATES = "vild"  # name of a template set in gpa/modeling/text/templates.py
    cfg.MODEL.CLIP.TEXT_CHUNK_SIZE = 256  # prompts encoded per text-encoder call
    cfg.MODEL.CLIP.VIT_PYRAMID_SCALES = (4.0, 2.0, 1.0, 0.5)  # ViT: resize factors of the patch map for res2..res5
    # Activation checkpointing (training memory): the blocks of these encoder stages, adapters included, run in
    # groups of CHECKPOINT_GROUP_SIZE under torch.utils.checkpoint; only each group's input is kept and the group
    # is recomputed in backward (about one more encoder forward per step, same gradients). Without it, adapters
    # keep every frozen block's activations alive for their input gradients. () = off; ViT: one stage, (0,).
    cfg.MODEL.CLIP.CHECKPOINT_STAGES = ()
    cfg.MODEL.CLIP.CHECKPOINT_GROUP_SIZE = 1  # larger keeps fewer group inputs but recomputes more blocks at once
    # "full": recompute everything in a group; "selective": keep the outputs of width-narrowing matrix products
    # (each MLP's output layer), so backward recomputes about half as much for one more map per block;
    # "minimal" (frozen ConvNeXt blocks, group size 1): keep each block's input, recompute only what its input
    # gradient needs (no MLP output layer), for "full"'s memory
    cfg.MODEL.CLIP.CHECKPOINT_MODE = "full"

    # ---------------------------------------------------------------- spatial adaptation module
    cfg.MODEL.ADAPTER = CN()
    cfg.MODEL.ADAPTER.ENABLED = True  # False = frozen-CLIP baseline (FC-CLIP-like)
    cfg.MODEL.ADAPTER.RANK = 32  # rank r of the low-rank subspace
    cfg.MODEL.ADAPTER.SPATIAL_KIND = "depthwise_conv"  # registered spatial mixer; "identity" = no spatial modeling
    cfg.MODEL.ADAPTER.KERNEL_SIZE = 7  # spatial mixer kernel (conv kinds) or window (attention kind)
    cfg.MODEL.ADAPTER.DILATION = 2  # used by "dilated_conv"
    cfg.MODEL.ADAPTER.NUM_HEADS = 4  # used by "window_attention"
    cfg.MODEL.ADAPTER.MODULATION = "scale_shift"  # "scale_shift": x*(1+g)+b ; "residual": x + up(down(x))
    cfg.MODEL.ADAPTER.STAGES = (0, 1, 2, 3)  # encoder stages fitted with adapters (ViT: one stage, 0)
    cfg.MODEL.ADAPTER.EVERY_K_BLOCKS = 1  # adapter after every k-th block of a chosen stage

    # ---------------------------------------------------------------- mask generator (Mask2Former names)
    cfg.MODEL.SEM_SEG_HEAD.NAME = "GPAHead"  # the mask generator (detectron2 SEM_SEG_HEADS_REGISTRY)
    cfg.MODEL.SEM_SEG_HEAD.IN_FEATURES = ["res2", "res3", "res4", "res5"]  # encoder features the pixel decoder reads
    cfg.MODEL.SEM_SEG_HEAD.CONVS_DIM = 256  # pixel-decoder width
    cfg.MODEL.SEM_SEG_HEAD.MASK_DIM = 256  # mask-feature width
    cfg.MODEL.SEM_SEG_HEAD.NORM = "GN"  # normalization of the pixel decoder's convolutions (detectron2 get_norm)
    cfg.MODEL.SEM_SEG_HEAD.COMMON_STRIDE = 4  # stride of the mask features
    cfg.MODEL.SEM_SEG_HEAD.PIXEL_DECODER_NAME = "MSDeformAttnPixelDecoder"  # PIXEL_DECODER_REGISTRY name
    # features refined by the deformable-attention encoder of the pixel decoder (the rest only by FPN lateral convs)
    cfg.MODEL.SEM_SEG_HEAD.DEFORMABLE_TRANSFORMER_ENCODER_IN_FEATURES = ["res3", "res4", "res5"]
    cfg.MODEL.SEM_SEG_HEAD.DEFORMABLE_TRANSFORMER_ENCODER_N_POINTS = 4  # sampling points per head and level
    cfg.MODEL.SEM_SEG_HEAD.DEFORMABLE_TRANSFORMER_ENCODER_N_HEADS = 8  # attention heads of that encoder
    cfg.MODEL.SEM_SEG_HEAD.TRANSFORMER_ENC_LAYERS = 6  # layers of that encoder
    cfg.MODEL.SEM_SEG_HEAD.TRANSFORMER_ENC_DIM_FEEDFORWARD = 1024  # feed-forward width of that encoder

    cfg.MODEL.MASK_FORMER = CN()
    # the masked-attention decoder (TRANSFORMER_DECODER_REGISTRY name)
    cfg.MODEL.MASK_FORMER.TRANSFORMER_DECODER_NAME = "MultiScaleMaskedTransformerDecoder"
    cfg.MODEL.MASK_FORMER.DEEP_SUPERVISION = True  # losses on every decoder layer's prediction, not only the last
    cfg.MODEL.MASK_FORMER.NO_OBJECT_WEIGHT = 0.1  # cross-entropy weight of the "no object" class
    cfg.MODEL.MASK_FORMER.CLASS_WEIGHT = 2.0  # weight of the classification loss and matching cost
    cfg.MODEL.MASK_FORMER.MASK_WEIGHT = 5.0  # weight of the mask BCE loss and matching cost
    cfg.MODEL.MASK_FORMER.DICE_WEIGHT = 5.0  # weight of the dice loss and matching cost
    cfg.MODEL.MASK_FORMER.HIDDEN_DIM = 256  # query width of the transformer decoder
    cfg.MODEL.MASK_FORMER.NUM_OBJECT_QUERIES = 250  # queries, i.e. at most this many segments per image
    cfg.MODEL.MASK_FORMER.NHEADS = 8  # attention heads of the transformer decoder
    cfg.MODEL.MASK_FORMER.DROPOUT = 0.0  # dropout in the transformer decoder
    cfg.MODEL.MASK_FORMER.DIM_FEEDFORWARD = 2048  # feed-forward width of the transformer decoder
    cfg.MODEL.MASK_FORMER.DEC_LAYERS = 10  # 9 masked-attention layers + the prediction from the learnable queries
    cfg.MODEL.MASK_FORMER.PRE_NORM = False  # LayerNorm before (True) or after (False) each decoder sub-layer
    cfg.MODEL.MASK_FORMER.ENFORCE_INPUT_PROJ = False  # a 1x1 projection of decoder inputs even when widths match
    cfg.MODEL.MASK_FORMER.TRAIN_NUM_POINTS = 112 * 112  # points sampled per mask for matching and losses
    cfg.MODEL.MASK_FORMER.OVERSAMPLE_RATIO = 3.0  # candidate points per kept point for importance sampling
    cfg.MODEL.MASK_FORMER.IMPORTANCE_SAMPLE_RATIO = 0.75  # share of points taken where the mask is most uncertain
    cfg.MODEL.MASK_FORMER.TEST = CN()
    cfg.MODEL.MASK_FORMER.TEST.SEMANTIC_ON = True  # semantic results ("sem_seg") at inference
    cfg.MODEL.MASK_FORMER.TEST.INSTANCE_ON = True  # instance results ("instances") at inference
    cfg.MODEL.MASK_FORMER.TEST.PANOPTIC_ON = True  # panoptic results ("panoptic_seg") at inference
    cfg.MODEL.MASK_FORMER.TEST.OBJECT_MASK_THRESHOLD = 0.0  # panoptic: queries kept above this class score
    cfg.MODEL.MASK_FORMER.TEST.OVERLAP_THRESHOLD = 0.8  # panoptic: min share of a mask left after overlaps
    cfg.MODEL.MASK_FORMER.TEST.DETECTIONS_PER_IMAGE = 100  # instance results kept per image
    # Instance (query, class) pairs: "all_classes" = Mask2Former's / FC-CLIP's top k over all classes, then stuff
    # dropped; "thing_classes" = top k among thing classes only (see gpa/modeling/inference/postprocess.py).
    cfg.MODEL.MASK_FORMER.TEST.INSTANCE_SELECTION = "all_classes"
    # Mask2Former's key: with panoptic and instance off, False computes semantic scores at the padded input size and
    # resizes them (Mask2Former / FC-CLIP); True resizes the masks first. Panoptic or instance on forces True.
    cfg.MODEL.MASK_FORMER.TEST.SEM_SEG_POSTPROCESSING_BEFORE_INFERENCE = False

    # ---------------------------------------------------------------- GPA heads and inference
    cfg.MODEL.GPA = CN()
    cfg.MODEL.GPA.IN_VOCAB_LOGIT_SCALE_MAX = 100.0  # clamp of the learnable logit scale
    cfg.MODEL.GPA.OUT_VOCAB_LOGIT_SCALE_MAX = 100.0  # clamp of CLIP's own logit scale (CFA / mask-pooling branch)
    cfg.MODEL.GPA.TRAIN_VOCABULARY = ""  # training classes for "seen" tests: a dataset name, class file, or ""
    #                                      ("" = the metadata of DATASETS.TRAIN[0], resolved on first use)
    # The second classifier's feature head, a name in MASK_CLASSIFIER_REGISTRY (gpa/modeling/heads/mask_classifier.py):
    # "" = chosen by MODEL.GPA.CFA.ENABLED ("ContextAwareAggregation" or "MaskPooling"); another name needs
    # CFA.ENABLED False.
    cfg.MODEL.GPA.MASK_CLASSIFIER = ""
    cfg.MODEL.GPA.CFA = CN()
    cfg.MODEL.GPA.CFA.ENABLED = True  # context-aware feature aggregation head (False = plain mask pooling)
    cfg.MODEL.GPA.CFA.CONTEXT_DIM = 256  # width of the object-agnostic context branch
    cfg.MODEL.GPA.CFA.NUM_CONTEXT_BLOCKS = 2  # depthwise-separable blocks of the context branch
    cfg.MODEL.GPA.CFA.NUM_MAPS = 4  # K object-specific classification maps per query
    cfg.MODEL.GPA.CFA.KEY_DIM = 64  # d, width of query/key projections of the classification maps
    cfg.MODEL.GPA.CFA.MASK_BIAS_EPS = 1e-4  # eps in log(sigmoid(mask) + eps)
    cfg.MODEL.GPA.CFA.LOSS_WEIGHT = 2.0  # weight of the CFA cross-entropy
    # True: output = mask pooling of Fc + gate * (attention pooling - mask pooling), gate zero-initialized, so the
    # head starts exactly as FC-CLIP's mask pooling (warm start from FC-CLIP); False: the attention alone.
    cfg.MODEL.GPA.CFA.START_AS_MASK_POOLING = False
    cfg.MODEL.GPA.ENSEMBLE_ALPHA = 0.4  # CFA weight for classes seen in training
    cfg.MODEL.GPA.ENSEMBLE_BETA = 0.8  # CFA weight for unseen classes
    # "fcclip": FC-CLIP's formula (void dropped before the in-vocabulary softmax); "void_in_softmax": gpa's earlier
    # formula (softmax over classes and void, then void dropped), kept only to reproduce results made with it.
    cfg.MODEL.GPA.ENSEMBLE_FORMULA = "fcclip"
    cfg.MODEL.GPA.ENSEMBLE_ON_VALID_MASK = False  # FC-CLIP's switch: queries with an empty mask use in-vocab only

    # ---------------------------------------------------------------- solver
    cfg.SOLVER.OPTIMIZER = "ADAMW"  # "ADAMW" or "SGD"
    cfg.SOLVER.ENCODER_LR_MULTIPLIER = 0.1  # pretrained CLIP weights (full fine-tuning only)
    cfg.SOLVER.ADAPTER_LR_MULTIPLIER = 1.0  # spatial adaptation modules
    cfg.SOLVER.WEIGHT_DECAY_EMBED = 0.0  # embeddings, queries, logit scales
    cfg.SOLVER.POLY_LR_POWER = 0.9  # exponent of SOLVER.LR_SCHEDULER_NAME "WarmupPolyLR"
    cfg.SOLVER.LOG_PERIOD = 20  # iterations between metric writes (console, metrics.json, tensorboard)
    cfg.SOLVER.AMP.DTYPE = "float16"  # autocast dtype when SOLVER.AMP.ENABLED: "float16" or "bfloat16"
    cfg.SOLVER.LEAN_CHECKPOINTS = True  # leave the frozen CLIP weights out of checkpoints when MODEL.CLIP.PRETRAINED
    #                                    provides them (with PRETRAINED "" they are random and always saved)
    cfg.SOLVER.CHECKPOINT_KEEP_LAST = 0  # periodic checkpoints kept (the newest N; 0 = all); model_final is kept

    # ---------------------------------------------------------------- checkpoints
    cfg.MODEL.WEIGHTS_NEW_KEYS = ()  # fnmatch patterns of state-dict keys a MODEL.WEIGHTS checkpoint may lack (they
    #                                  keep their initialization and are listed in the log), e.g. "*.adapter.*"
    cfg.MODEL.WEIGHTS_UNUSED_KEYS = ()  # fnmatch patterns of keys of a MODEL.WEIGHTS checkpoint the model does not
    #                                     use (dropped and listed in the log), e.g. another backbone's "backbone.*"

    # ---------------------------------------------------------------- inference memory and precision
    # Post-processing brings mask logits to the output size a chunk of queries at a time, at most this many
    # full-resolution values per chunk (at least one query), so Q x H x W floats never exist at once; 0 = all
    # queries in one chunk. Results do not depend on it (semantic scores up to float rounding of the sum).
    cfg.MODEL.MASK_FORMER.TEST.CHUNK_PIXELS = 2**26  # 256 MiB of float32 per full-resolution chunk
    cfg.TEST.AMP = CN()
    cfg.TEST.AMP.ENABLED = False  # inference (evaluation, Predictor, demo) under torch.autocast
    cfg.TEST.AMP.DTYPE = "bfloat16"  # "bfloat16" or "float16"; text embeddings and post-processing stay float32
