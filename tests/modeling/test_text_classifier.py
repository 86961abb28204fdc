"""Prompt templates, the cached text classifier and the max-over-synonyms reduction."""
import pytest
import torch
import torch.nn.functional as F
from detectron2.config import get_cfg

from gpa.config import add_gpa_config
from gpa.modeling.backbone import CLIPBackbone
from gpa.modeling.text import TextClassifier, get_templates, max_over_synonyms, template_set_names
from gpa.modeling.text.templates import check_templates
from gpa.vocabulary import Vocabulary

EMBED = 16


class CountingEncoder:
    """A fake CLIP text side: every distinct prompt gets a fixed random embedding; calls are counted."""

    def __init__(self) -> None:
        self.table = torch.randn(500, EMBED, generator=torch.Generator().manual_seed(0))
        self.ids: dict[str, int] = {}
        self.batch_sizes: list[int] = []

    def tokenize(self, texts: list[str]) -> torch.Tensor:
        return torch.tensor([self.ids.setdefault(text, len(self.ids)) for text in texts])

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        self.batch_sizes.append(len(tokens))
        return 3.0 * self.table[tokens]

    def embed(self, prompt: str) -> torch.Tensor:
        return 3.0 * self.table[self.ids.setdefault(prompt, len(self.ids))]


VOCAB = Vocabulary.from_strings(["cat,kitty", "dog", "traffic light,stop light,signal"])
TEMPLATES = ("a photo of a {}.", "a {} in the scene", "itap of a {}")


def reference_embeddings(encoder: CountingEncoder, vocabulary: Vocabulary, templates) -> torch.Tensor:
    rows = []
    for synonyms in vocabulary.classes:
        for name in synonyms:
            per_template = [F.normalize(encoder.embed(t.format(name)), dim=0) for t in templates]
            mean = torch.stack(per_template).mean(dim=0)
            rows.append(mean / mean.norm())
    return torch.stack(rows)


def test_embeddings_and_class_index_match_a_loop_reference():
    encoder = CountingEncoder()
    classifier = TextClassifier(encoder, templates=TEMPLATES, chunk_size=4)
    embeddings, class_index = classifier(VOCAB)
    assert embeddings.dtype == torch.float32 and embeddings.shape == (6, EMBED)
    assert class_index.dtype == torch.int64 and class_index.tolist() == [0, 0, 1, 2, 2, 2]
    torch.testing.assert_close(embeddings, reference_embeddings(encoder, VOCAB, TEMPLATES))
    torch.testing.assert_close(embeddings.norm(dim=-1), torch.ones(6))
    assert encoder.batch_sizes == [4, 4, 4, 4, 2]  # 18 prompts, 4 per call


def test_second_call_hits_the_cache():
    encoder = CountingEncoder()
    classifier = TextClassifier(encoder, templates=TEMPLATES, chunk_size=256)
    first = classifier(VOCAB)
    assert len(encoder.batch_sizes) == 1
    second = classifier(Vocabulary.from_strings(VOCAB.strings, is_thing=[False, True, False]))
    assert len(encoder.batch_sizes) == 1
    assert second[0] is first[0] and second[1] is first[1]
    classifier(Vocabulary.from_strings(["cat"]))
    assert len(encoder.batch_sizes) == 2
    classifier.to("cpu")  # moving the module drops the cache
    classifier(VOCAB)
    assert len(encoder.batch_sizes) == 3


@pytest.fixture(scope="module")
def tiny_clip():
    return CLIPBackbone("gpa_tiny_vit", adapter_enabled=False, vit_pyramid_scales=(2.0, 1.0, 0.5, 0.25))


def test_chunk_size_does_not_change_results_with_a_real_text_encoder(tiny_clip):
    results = [TextClassifier(tiny_clip, templates=TEMPLATES, chunk_size=size)(VOCAB) for size in (1, 5, 1000)]
    for embeddings, class_index in results[1:]:
        torch.testing.assert_close(embeddings, results[0][0], atol=1e-6, rtol=1e-5)
        assert torch.equal(class_index, results[0][1])
    with torch.no_grad():
        cat = F.normalize(tiny_clip.encode_text(tiny_clip.tokenize([t.format("cat") for t in TEMPLATES])), dim=-1)
    torch.testing.assert_close(results[0][0][0], F.normalize(cat.mean(dim=0), dim=0), atol=1e-6, rtol=1e-5)
    assert not results[0][0].requires_grad


def test_classifier_owns_no_parameters_and_does_not_register_clip(tiny_clip):
    classifier = TextClassifier(tiny_clip)
    assert list(classifier.parameters()) == [] and classifier.state_dict() == {}
    assert list(classifier.modules()) == [classifier]


def test_from_config():
    cfg = get_cfg()
    add_gpa_config(cfg)
    cfg.MODEL.CLIP.PROMPT_TEMPLATES = "single"
    cfg.MODEL.CLIP.TEXT_CHUNK_SIZE = 7
    classifier = TextClassifier(cfg, CountingEncoder())
    assert classifier.templates == ("a photo of a {}.",) and classifier.chunk_size == 7


def test_template_sets():
    assert len(get_templates("vild")) == 14 and get_templates("single") == ("a photo of a {}.",)
    assert template_set_names() == ["single", "vild"]
    for name in template_set_names():
        assert check_templates(get_templates(name)) == get_templates(name)
    with pytest.raises(ValueError, match="unknown prompt-template set 'vild15'.*single, vild"):
        get_templates("vild15")


def test_template_and_chunk_errors():
    with pytest.raises(TypeError, match="sequence of strings.*get_templates"):
        TextClassifier(CountingEncoder(), templates="vild")
    with pytest.raises(ValueError, match="exactly one '\\{\\}'"):
        TextClassifier(CountingEncoder(), templates=["a photo of a {} and a {}"])
    with pytest.raises(ValueError, match="exactly one"):
        check_templates(["a photo"])
    with pytest.raises(ValueError, match="empty"):
        check_templates([])
    with pytest.raises(ValueError, match="TEXT_CHUNK_SIZE.*>= 1"):
        TextClassifier(CountingEncoder(), chunk_size=0)


def test_max_over_synonyms_matches_a_loop():
    logits = torch.randn(2, 3, 6, requires_grad=True)
    class_index = torch.tensor([0, 0, 1, 2, 2, 2])
    out = max_over_synonyms(logits, class_index, 3)
    expected = torch.empty(2, 3, 3)
    for i in range(2):
        for j in range(3):
            for c in range(3):
                expected[i, j, c] = max(logits[i, j, s].item() for s in range(6) if class_index[s] == c)
    torch.testing.assert_close(out, expected)
    out.sum().backward()
    assert logits.grad.sum().item() == pytest.approx(2 * 3 * 3)  # one winning synonym per class
    assert ((logits.grad == 0) | (logits.grad == 1)).all()


def test_max_over_synonyms_errors():
    logits = torch.randn(4, 3)
    with pytest.raises(ValueError, match=r"classes \[1\] have no synonym"):
        max_over_synonyms(logits, torch.tensor([0, 2, 2]), 3)
    with pytest.raises(ValueError, match="0..1, got the range 0..2"):
        max_over_synonyms(logits, torch.tensor([0, 1, 2]), 2)
    with pytest.raises(ValueError, match="S = logits.shape"):
        max_over_synonyms(logits, torch.tensor([0, 1]), 2)
    with pytest.raises(TypeError, match="int64"):
        max_over_synonyms(logits, torch.tensor([0, 1, 1], dtype=torch.int32), 2)
