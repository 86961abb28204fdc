"""The GPA meta-architecture: adapted CLIP encoder -> mask generator -> two classifiers.

Training: Mask2Former losses on the in-vocabulary classifier's logits and the masks, plus the CFA
head's cross-entropy on matched queries. Inference: both classifiers combined by the geometric
ensemble, then semantic / panoptic / instance post-processing. Every input names its vocabulary
(a `Vocabulary` under "vocabulary", or a registered dataset under "dataset_name").
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from detectron2.config import CfgNode, configurable
from detectron2.modeling import META_ARCH_REGISTRY, SEM_SEG_HEADS_REGISTRY, build_backbone
from detectron2.modeling.postprocessing import sem_seg_postprocess
from detectron2.structures import ImageList
from torch import nn

from gpa.modeling.backbone.encoders import DENSE_FEATURE
from gpa.modeling.backbone.spatial_adapter import SpatialAdapter
from gpa.modeling.criterion import SetCriterion
from gpa.modeling.heads import build_mask_classifier
from gpa.modeling.heads.matched_cross_entropy import matched_cross_entropy
from gpa.modeling.heads.open_vocab_logits import open_vocab_logits
from gpa.modeling.inference.ensemble import ENSEMBLE_FORMULA_REGISTRY, geometric_ensemble
from gpa.modeling.inference.mask_upsampling import DEFAULT_CHUNK_PIXELS, QueryMasks
from gpa.modeling.inference.postprocess import (
    INSTANCE_SELECTIONS,
    instance_inference,
    panoptic_inference,
    semantic_inference,
)
from gpa.modeling.text.text_classifier import TextClassifier
from gpa.vocabulary import Vocabulary, merge_vocabularies, resolve_vocabulary

__all__ = ["GPA", "INFERENCE_AMP_DTYPES"]

INFERENCE_AMP_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}  # TEST.AMP.DTYPE


def _without_autocast(method: Callable) -> Callable:
    """Run a GPA method with autocast off on the model's device (post-processing stays in float32)."""

    @functools.wraps(method)
    def wrapper(self: GPA, *args: Any, **kwargs: Any) -> Any:
        with torch.autocast(self.device.type, enabled=False):
            return method(self, *args, **kwargs)

    return wrapper


@META_ARCH_REGISTRY.register()
class GPA(nn.Module):
    """Open-vocabulary segmentation with a generalization-preserving adapted CLIP (see module doc)."""

    @configurable
    def __init__(
        self,
        *,
        backbone: nn.Module,
        sem_seg_head: nn.Module,
        criterion: SetCriterion,
        text_classifier: TextClassifier,
        cfa_head: nn.Module,
        pixel_mean: Sequence[float],
        pixel_std: Sequence[float],
        size_divisibility: int = 32,
        logit_scale_max: float = 100.0,
        out_vocab_logit_scale_max: float = 100.0,
        cfa_loss_weight: float = 2.0,
        ensemble_alpha: float = 0.4,
        ensemble_beta: float = 0.8,
        ensemble_formula: str = "fcclip",
        ensemble_on_valid_mask: bool = False,
        semantic_on: bool = True,
        panoptic_on: bool = True,
        instance_on: bool = True,
        object_mask_threshold: float = 0.0,
        overlap_threshold: float = 0.8,
        detections_per_image: int = 100,
        instance_selection: str = "all_classes",
        sem_seg_postprocess_before_inference: bool = False,
        postprocess_chunk_pixels: int = DEFAULT_CHUNK_PIXELS,
        inference_amp_dtype: str = "",
        train_vocabulary_sources: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.sem_seg_head = sem_seg_head
        self.criterion = criterion
        self.text_classifier = text_classifier
        # The second classifier's feature head (a MASK_CLASSIFIER_REGISTRY member). The attribute keeps the name
        # `cfa_head` so CFA checkpoints keep their key names; mask pooling has no parameters, hence no keys.
        self.cfa_head = cfa_head
        self.void_embedding = nn.Embedding(1, backbone.embed_dim)
        self.register_buffer("pixel_mean", torch.tensor(pixel_mean, dtype=torch.float32).view(-1, 1, 1), False)
        self.register_buffer("pixel_std", torch.tensor(pixel_std, dtype=torch.float32).view(-1, 1, 1), False)
        self.size_divisibility = size_divisibility
        self.logit_scale_max = logit_scale_max
        self.out_vocab_logit_scale_max = out_vocab_logit_scale_max
        self.cfa_loss_weight = cfa_loss_weight
        self.ensemble_alpha, self.ensemble_beta = ensemble_alpha, ensemble_beta
        ENSEMBLE_FORMULA_REGISTRY.get_for(ensemble_formula, "MODEL.GPA.ENSEMBLE_FORMULA")  # unknown: fail when built
        if instance_selection not in INSTANCE_SELECTIONS:
            raise ValueError(
                f"MODEL.MASK_FORMER.TEST.INSTANCE_SELECTION is {instance_selection!r}; "
                f"valid: {', '.join(INSTANCE_SELECTIONS)}"
            )
        self.ensemble_formula, self.ensemble_on_valid_mask = ensemble_formula, ensemble_on_valid_mask
        self.instance_selection = instance_selection
        # As Mask2Former / FC-CLIP: masks are resized to the output size before inference when panoptic or
        # instance results are asked for; semantic-only inference runs at the padded input size and resizes
        # the class scores unless the key asks otherwise.
        self.sem_seg_postprocess_before_inference = sem_seg_postprocess_before_inference or panoptic_on or instance_on
        self.semantic_on, self.panoptic_on, self.instance_on = semantic_on, panoptic_on, instance_on
        self.object_mask_threshold, self.overlap_threshold = object_mask_threshold, overlap_threshold
        self.detections_per_image = detections_per_image
        if postprocess_chunk_pixels < 0:
            raise ValueError(
                f"MODEL.MASK_FORMER.TEST.CHUNK_PIXELS must be >= 0 (0 = all queries at once), "
                f"got {postprocess_chunk_pixels}"
            )
        self.postprocess_chunk_pixels = postprocess_chunk_pixels
        if inference_amp_dtype and inference_amp_dtype not in INFERENCE_AMP_DTYPES:
            raise ValueError(
                f"TEST.AMP.DTYPE is {inference_amp_dtype!r}; valid: {', '.join(INFERENCE_AMP_DTYPES)} "
                "(or TEST.AMP.ENABLED False for float32)"
            )
        self.inference_amp_dtype = INFERENCE_AMP_DTYPES.get(inference_amp_dtype)  # None = float32
        self.train_vocabulary_sources = tuple(train_vocabulary_sources)
        self._train_vocabulary: Vocabulary | None = None
        self._seen_cache: dict[Vocabulary, torch.Tensor] = {}

    @classmethod
    def from_config(cls, cfg: CfgNode) -> dict[str, Any]:
        backbone = build_backbone(cfg)
        shapes = backbone.output_shape()
        head_shapes = {k: shapes[k] for k in cfg.MODEL.SEM_SEG_HEAD.IN_FEATURES}
        sem_seg_head = SEM_SEG_HEADS_REGISTRY.get(cfg.MODEL.SEM_SEG_HEAD.NAME)(
            cfg, head_shapes, embed_dim=backbone.embed_dim
        )
        mf, gpa = cfg.MODEL.MASK_FORMER, cfg.MODEL.GPA
        train_sources = (gpa.TRAIN_VOCABULARY,) if gpa.TRAIN_VOCABULARY else tuple(cfg.DATASETS.TRAIN)
        return {
            "backbone": backbone,
            "sem_seg_head": sem_seg_head,
            "criterion": SetCriterion(cfg),
            "text_classifier": TextClassifier(cfg, backbone),
            "cfa_head": build_mask_classifier(cfg, dense_dim=backbone.dense_dim, query_dim=mf.HIDDEN_DIM),
            "pixel_mean": cfg.MODEL.PIXEL_MEAN,
            "pixel_std": cfg.MODEL.PIXEL_STD,
            "size_divisibility": cfg.INPUT.SIZE_DIVISIBILITY,
            "logit_scale_max": gpa.IN_VOCAB_LOGIT_SCALE_MAX,
            "out_vocab_logit_scale_max": gpa.OUT_VOCAB_LOGIT_SCALE_MAX,
            "cfa_loss_weight": gpa.CFA.LOSS_WEIGHT,
            "ensemble_alpha": gpa.ENSEMBLE_ALPHA,
            "ensemble_beta": gpa.ENSEMBLE_BETA,
            "ensemble_formula": gpa.ENSEMBLE_FORMULA,
            "ensemble_on_valid_mask": gpa.ENSEMBLE_ON_VALID_MASK,
            "semantic_on": mf.TEST.SEMANTIC_ON,
            "panoptic_on": mf.TEST.PANOPTIC_ON,
            "instance_on": mf.TEST.INSTANCE_ON,
            "object_mask_threshold": mf.TEST.OBJECT_MASK_THRESHOLD,
            "overlap_threshold": mf.TEST.OVERLAP_THRESHOLD,
            "detections_per_image": mf.TEST.DETECTIONS_PER_IMAGE,
            "instance_selection": mf.TEST.INSTANCE_SELECTION,
            "sem_seg_postprocess_before_inference": mf.TEST.SEM_SEG_POSTPROCESSING_BEFORE_INFERENCE,
            "postprocess_chunk_pixels": mf.TEST.CHUNK_PIXELS,
            "inference_amp_dtype": cfg.TEST.AMP.DTYPE if cfg.TEST.AMP.ENABLED else "",
            "train_vocabulary_sources": train_sources,
        }

    @property
    def device(self) -> torch.device:
        return self.pixel_mean.device

    # ------------------------------------------------------------------ parameters
    def trainable_parameter_groups(self) -> dict[str, list[tuple[str, nn.Parameter]]]:
        """Trainable parameters by owner: the encoder's groups ("encoder", "adapter") and "head"."""
        groups = {
            group: [(f"backbone.{name}", p) for name, p in named]
            for group, named in self.backbone.parameter_groups().items()
        }
        in_backbone = {id(p) for p in self.backbone.parameters()}
        groups["head"] = [(n, p) for n, p in self.named_parameters() if p.requires_grad and id(p) not in in_backbone]
        return groups

    def keys_new_over_fcclip(self) -> list[str]:
        """State-dict keys an FC-CLIP checkpoint cannot hold: those of the spatial adapters and the CFA head.

        Every other key of this model has FC-CLIP's name (FC-CLIP's `criterion.empty_weight`, a loss buffer
        sized by the training classes, is the one FC-CLIP key gpa's model does not have). A warm start from
        FC-CLIP loads the rest and keeps these as initialized: the identity for the adapters, mask pooling
        for the CFA head with MODEL.GPA.CFA.START_AS_MASK_POOLING.
        """
        owners = [name for name, module in self.named_modules() if isinstance(module, SpatialAdapter)]
        owners.append("cfa_head")
        return sorted(k for k in self.state_dict() if any(k.startswith(f"{owner}.") for owner in owners))

    # ------------------------------------------------------------------ vocabularies
    def vocabulary_of(self, batched_inputs: Sequence[dict]) -> Vocabulary:
        """The one vocabulary shared by all inputs of a batch."""
        vocabularies = []
        for x in batched_inputs:
            if "vocabulary" in x:
                vocabulary = x["vocabulary"]
                if not isinstance(vocabulary, Vocabulary):
                    raise TypeError(
                        f"input 'vocabulary' must be a gpa.vocabulary.Vocabulary, got {type(vocabulary).__name__}"
                    )
            elif "dataset_name" in x:
                vocabulary = resolve_vocabulary(x["dataset_name"])
            else:
                raise KeyError(
                    "each input needs 'vocabulary' (a gpa.vocabulary.Vocabulary) or 'dataset_name' (a registered "
                    "dataset)"
                )
            vocabularies.append(vocabulary)
        if any(v != vocabularies[0] for v in vocabularies[1:]):
            raise ValueError("all inputs of a batch must share one vocabulary; batch images of one dataset together")
        return vocabularies[0]

    @property
    def train_vocabulary(self) -> Vocabulary:
        """Classes seen in training (for the ensemble's seen/unseen weights), resolved on first use."""
        if self._train_vocabulary is None:
            if not self.train_vocabulary_sources:
                raise ValueError(
                    "the training vocabulary is unknown: set MODEL.GPA.TRAIN_VOCABULARY (a dataset name or a "
                    "class file) or DATASETS.TRAIN, or assign model.train_vocabulary"
                )
            self._train_vocabulary = merge_vocabularies([resolve_vocabulary(s) for s in self.train_vocabulary_sources])
        return self._train_vocabulary

    @train_vocabulary.setter
    def train_vocabulary(self, vocabulary: Vocabulary) -> None:
        self._train_vocabulary = vocabulary
        self._seen_cache.clear()

    def seen_mask(self, vocabulary: Vocabulary) -> torch.Tensor:
        if vocabulary not in self._seen_cache:
            seen = vocabulary.seen_mask(self.train_vocabulary)
            self._seen_cache[vocabulary] = torch.tensor(seen, dtype=torch.bool, device=self.device)
        return self._seen_cache[vocabulary]

    # ------------------------------------------------------------------ forward
    def preprocess(self, batched_inputs: Sequence[dict]) -> ImageList:
        images = [(x["image"].to(self.device) - self.pixel_mean) / self.pixel_std for x in batched_inputs]
        return ImageList.from_tensors(images, self.size_divisibility)

    def forward(self, batched_inputs: list[dict]) -> dict[str, torch.Tensor] | list[dict]:
        """Training: dict of weighted losses. Inference: one result dict per input, under autocast to
        `inference_amp_dtype` when set (TEST.AMP; text embeddings and post-processing stay float32)."""
        if self.training or self.inference_amp_dtype is None:
            return self._forward(batched_inputs)
        self.text_classifier(self.vocabulary_of(batched_inputs))  # embedded once per vocabulary, in float32
        with torch.autocast(self.device.type, dtype=self.inference_amp_dtype):
            return self._forward(batched_inputs)

    def _forward(self, batched_inputs: list[dict]) -> dict[str, torch.Tensor] | list[dict]:
        images = self.preprocess(batched_inputs)
        vocabulary = self.vocabulary_of(batched_inputs)
        features = self.backbone(images.tensor)
        outputs = self.sem_seg_head(features)
        text, class_index = self.text_classifier(vocabulary)
        in_vocab = [
            self.in_vocab_logits(o["pred_embeds"], text, class_index, len(vocabulary)) for o in self._layers(outputs)
        ]
        if self.training:
            return self.losses(batched_inputs, images, features, outputs, in_vocab, text, class_index, len(vocabulary))
        cfa = self.cfa_logits(features[DENSE_FEATURE], outputs, text, class_index, len(vocabulary))
        valid = None
        if self.ensemble_on_valid_mask:
            valid = self.valid_queries(features[DENSE_FEATURE], outputs["pred_masks"])
        probs = geometric_ensemble(
            in_vocab[-1],
            cfa,
            self.seen_mask(vocabulary),
            self.ensemble_alpha,
            self.ensemble_beta,
            valid=valid,
            formula=self.ensemble_formula,
        )
        return self.postprocess(batched_inputs, images, probs, outputs["pred_masks"], vocabulary)

    @staticmethod
    def valid_queries(dense: torch.Tensor, mask_logits: torch.Tensor) -> torch.Tensor:
        """[B, Q] bool: the query's mask, resized to the CLIP map, has a pixel above 0 (FC-CLIP's valid mask)."""
        resized = F.interpolate(mask_logits, size=dense.shape[-2:], mode="bilinear", align_corners=False)
        return (resized > 0).flatten(2).any(dim=-1)

    @staticmethod
    def _layers(outputs: dict) -> list[dict]:
        """Auxiliary predictions first, the final one last."""
        return [*outputs.get("aux_outputs", []), outputs]

    def in_vocab_logits(self, embeds, text, class_index, num_classes: int) -> torch.Tensor:
        scale = self.sem_seg_head.predictor.logit_scale.exp().clamp(max=self.logit_scale_max)
        return open_vocab_logits(embeds, text, class_index, num_classes, scale, self.void_embedding.weight[0])

    def cfa_logits(self, dense, outputs, text, class_index, num_classes: int) -> torch.Tensor:
        """Classify each query's CLIP-space feature from the mask classifier (CFA, mask pooling, ...)."""
        pooled = self.cfa_head(dense, outputs["pred_masks"], outputs["query_features"])
        batch, queries, dim = pooled.shape
        embeds = self.backbone.pool_dense(pooled.reshape(batch * queries, dim)).reshape(batch, queries, -1)
        scale = self.backbone.logit_scale.clamp(max=self.out_vocab_logit_scale_max)
        return open_vocab_logits(embeds, text, class_index, num_classes, scale)

    def losses(self, batched_inputs, images, features, outputs, in_vocab, text, class_index, num_classes):
        targets = self.prepare_targets(batched_inputs, images)
        layers = self._layers(outputs)
        criterion_outputs = {
            "pred_logits": in_vocab[-1],
            "pred_masks": outputs["pred_masks"],
            # the criterion's own deep_supervision (MODEL.MASK_FORMER.DEEP_SUPERVISION) decides if these are used
            "aux_outputs": [
                {"pred_logits": logits, "pred_masks": layer["pred_masks"]}
                for logits, layer in zip(in_vocab[:-1], layers[:-1])
            ],
        }
        losses, indices = self.criterion(criterion_outputs, targets)
        weighted = {k: v * self.criterion.weight_dict[k] for k, v in losses.items() if k in self.criterion.weight_dict}
        if self.cfa_head.has_loss:
            cfa = self.cfa_logits(features[DENSE_FEATURE], outputs, text, class_index, num_classes)
            labels = [t["labels"] for t in targets]
            weighted["loss_cfa"] = self.cfa_loss_weight * matched_cross_entropy(cfa, indices, labels)
        return weighted

    def prepare_targets(self, batched_inputs: Sequence[dict], images: ImageList) -> list[dict[str, torch.Tensor]]:
        """Per image: class ids and masks padded to the batch's padded size."""
        height, width = images.tensor.shape[-2:]
        targets = []
        for x in batched_inputs:
            if "instances" not in x:
                raise KeyError("training inputs need 'instances' (gt_classes, gt_masks); use a gpa training mapper")
            instances = x["instances"].to(self.device)
            masks = instances.gt_masks.tensor if hasattr(instances.gt_masks, "tensor") else instances.gt_masks
            padded = masks.new_zeros((masks.shape[0], height, width))
            padded[:, : masks.shape[1], : masks.shape[2]] = masks
            targets.append({"labels": instances.gt_classes, "masks": padded})
        return targets

    @_without_autocast
    def postprocess(self, batched_inputs, images: ImageList, probs, mask_logits, vocabulary: Vocabulary) -> list[dict]:
        """Masks to each input's output size (a chunk of queries at a time, see QueryMasks), then the enabled
        tasks."""
        padded_size = tuple(images.tensor.shape[-2:])
        is_thing = torch.tensor(vocabulary.is_thing, dtype=torch.bool, device=self.device)
        results = []
        for class_probs, masks, x, image_size in zip(probs, mask_logits, batched_inputs, images.image_sizes):
            height, width = x.get("height", image_size[0]), x.get("width", image_size[1])
            class_probs = class_probs.float()
            result: dict[str, Any] = {}
            if not self.sem_seg_postprocess_before_inference:  # no panoptic / instance: scores at the padded size
                if self.semantic_on:
                    at_padded = QueryMasks(masks, padded_size, padded_size, padded_size, self.postprocess_chunk_pixels)
                    semantic = semantic_inference(class_probs, at_padded)
                    result["sem_seg"] = sem_seg_postprocess(semantic, image_size, height, width)
                results.append(result)
                continue
            masks = QueryMasks(masks, padded_size, image_size, (height, width), self.postprocess_chunk_pixels)
            if self.semantic_on:
                result["sem_seg"] = semantic_inference(class_probs, masks)
            if self.panoptic_on:
                result["panoptic_seg"] = panoptic_inference(
                    class_probs, masks, is_thing, self.object_mask_threshold, self.overlap_threshold
                )
            if self.instance_on:
                result["instances"] = instance_inference(
                    class_probs, masks, is_thing, self.detections_per_image, self.instance_selection
                )
            results.append(result)
        return results
