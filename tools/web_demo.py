#!/usr/bin/env python
"""A web page that segments an uploaded image into the classes you type (Gradio).

python tools/web_demo.py                       # the toy model that README command 1 trains (output/toy_main)
python tools/web_demo.py --config-file configs/coco/gpa_convnext_large.yaml --weights model_final.pth --port 7860

Open the printed address, upload an image, type the classes ("car,automobile;person;sky": classes separated by
";", synonyms by ","), mark the stuff classes, choose the task and press Segment. The page shows the segments drawn
over the image, the list of segments (class, score, area) and the files tools/demo.py writes for an image
(visualization PNG, the task's map as PNG, segments JSON) to download. The model is built once at start; each
vocabulary's text embeddings are computed once and cached. Needs gpa's `demo` extra: pip install -e '.[demo]'.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from gpa.inference import TASKS, Predictor, load_image
from gpa.inference.result import PredictionResult
from gpa.inference.result_files import save_outputs
from gpa.inference.visualization import vocabulary_metadata
from gpa.vocabulary import parse_vocabulary_string

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = REPO / "configs" / "toy" / "gpa.yaml"
DEFAULT_WEIGHTS = REPO / "output" / "toy_main" / "model_final.pth"  # what `bash tools/run_main.sh` writes
# The toy world's classes, two of them never seen with a mask in training (blue circle, cyan heart).
DEFAULT_VOCABULARY = "blue circle;blue star;pink square;cyan heart;stripes;grid"
DEFAULT_STUFF = "stripes;grid"
SEGMENT_COLUMNS = ["id", "class", "score", "area", "kind"]
# Page elements the browser test finds by id.
ELEMENT_IDS = {"image": "gpa-image", "vocabulary": "gpa-vocabulary", "stuff": "gpa-stuff", "task": "gpa-task",
               "run": "gpa-run", "status": "gpa-status", "overlay": "gpa-overlay", "segments": "gpa-segments",
               "files": "gpa-files"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-file", default=str(DEFAULT_CONFIG),
                        help="the config the weights were trained with (default: the toy model's)")
    parser.add_argument("--weights", default=str(DEFAULT_WEIGHTS),
                        help="trained checkpoint (default: the toy model of README command 1, output/toy_main)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ... (default: MODEL.DEVICE)")
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (0.0.0.0: every interface)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--vocabulary", default=DEFAULT_VOCABULARY, help="the vocabulary the page starts with")
    parser.add_argument("--stuff", default=DEFAULT_STUFF, help="the stuff classes the page starts with")
    parser.add_argument("--confidence-threshold", type=float, default=0.5,
                        help="instance task: keep instances scoring at least this")
    parser.add_argument("--vis-scale", type=float, default=1.0,
                        help="size of the drawing relative to the image (above 1 for small images: 4 for the toy)")
    parser.add_argument("--opts", nargs=argparse.REMAINDER, default=[], help="config overrides: KEY VALUE ...")
    return parser


@dataclass
class PageResult:
    """What the page shows for one request: a status line, the drawing, the segment rows and the files."""

    status: str
    overlay: str | None = None
    rows: list[list] | None = None
    files: list[str] | None = None


def segment_rows(result: PredictionResult) -> list[list]:
    """One row per segment: id, class (its displayed name), score (None -> ""), area in pixels, thing / stuff."""
    return [[s.id, s.class_name, "" if s.score is None else round(s.score, 3), s.area,
             "thing" if s.isthing else "stuff"] for s in result.segments]


class WebDemo:
    """The page's logic, without Gradio: a Predictor built once, and one call per press of Segment."""

    def __init__(self, predictor: Predictor, output_root: Path, confidence_threshold: float = 0.5,
                 visualization_scale: float = 1.0) -> None:
        self.predictor = predictor
        self.output_root = Path(output_root)
        self.confidence_threshold = confidence_threshold
        self.visualization_scale = visualization_scale

    def run(self, image_path: str | None, vocabulary_text: str, stuff_text: str, task: str) -> PageResult:
        """Segment the uploaded image; bad input gives the Predictor's message as the status, and no outputs."""
        try:
            return self._run(image_path, vocabulary_text, stuff_text, task)
        except (ValueError, FileNotFoundError) as err:  # the user's input: show what to fix
            return PageResult(status=f"Error: {err}")

    def _run(self, image_path: str | None, vocabulary_text: str, stuff_text: str, task: str) -> PageResult:
        if not image_path:
            raise ValueError("no image: upload an image first")
        classes = parse_vocabulary_string(vocabulary_text or "", "the vocabulary")
        stuff = parse_vocabulary_string(stuff_text, "the stuff list") if (stuff_text or "").strip() else []
        vocabulary = self.predictor.vocabulary(classes, stuff)  # checked before the image is read
        image_rgb = load_image(image_path)
        result = self.predictor.predict(image_rgb, vocabulary, task=task)
        if result.task == "instance":
            result = result.filter_by_score(self.confidence_threshold)
        name = Path(image_path)
        paths = save_outputs(result, image_rgb, self.output_root / uuid.uuid4().hex, name.stem, image_name=name.name,
                             metadata=vocabulary_metadata(vocabulary), visualization_scale=self.visualization_scale)
        return PageResult(
            status=f"{len(result.segments)} segments ({task}, {len(vocabulary)} classes)",
            overlay=str(paths["visualization"]),
            rows=segment_rows(result),
            files=[str(paths[key]) for key in ("visualization", "segmentation", "segments")],
        )


def build_page(demo: WebDemo, vocabulary: str, stuff: str) -> gr.Blocks:
    """The Gradio page: inputs on the left, the drawing, the segment list and the files on the right."""
    with gr.Blocks(title="gpa: open-vocabulary segmentation", analytics_enabled=False) as page:
        gr.Markdown("## gpa: segment an image into any classes\nClasses are separated by `;`, synonyms by `,` "
                    "(the first name is displayed). Stuff classes (one segment per class) are listed below them.")
        with gr.Row():
            with gr.Column():
                image = gr.Image(type="filepath", label="Image", elem_id=ELEMENT_IDS["image"])
                vocabulary_box = gr.Textbox(value=vocabulary, label="Vocabulary", elem_id=ELEMENT_IDS["vocabulary"],
                                            placeholder="car,automobile;person;sky;road")
                stuff_box = gr.Textbox(value=stuff, label="Stuff classes", elem_id=ELEMENT_IDS["stuff"],
                                       placeholder="sky;road")
                task = gr.Radio(list(TASKS), value="panoptic", label="Task", elem_id=ELEMENT_IDS["task"])
                run = gr.Button("Segment", variant="primary", elem_id=ELEMENT_IDS["run"])
            with gr.Column():
                status = gr.Markdown(elem_id=ELEMENT_IDS["status"])
                overlay = gr.Image(label="Segments", type="filepath", interactive=False,
                                   elem_id=ELEMENT_IDS["overlay"])
                segments = gr.Dataframe(headers=SEGMENT_COLUMNS, label="Segment list", interactive=False,
                                        elem_id=ELEMENT_IDS["segments"])
                files = gr.File(label="Files (as tools/demo.py writes them)", file_count="multiple",
                                interactive=False, elem_id=ELEMENT_IDS["files"])

        def on_run(image_path, vocabulary_text, stuff_text, task_name):
            shown = demo.run(image_path, vocabulary_text, stuff_text, task_name)
            return shown.status, shown.overlay, shown.rows or [], shown.files

        run.click(on_run, inputs=[image, vocabulary_box, stuff_box, task], outputs=[status, overlay, segments, files])
    return page


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.weights == str(DEFAULT_WEIGHTS) and not DEFAULT_WEIGHTS.is_file():
        raise FileNotFoundError(f"the default weights {DEFAULT_WEIGHTS} do not exist yet: train the toy model with "
                                "`bash tools/run_main.sh` (README command 1), or pass --config-file and --weights")
    predictor = Predictor(args.config_file, args.weights, device=args.device, opts=args.opts)
    with tempfile.TemporaryDirectory(prefix="gpa-web-demo-") as output_root:
        demo = WebDemo(predictor, Path(output_root), args.confidence_threshold, args.vis_scale)
        build_page(demo, args.vocabulary, args.stuff).launch(server_name=args.host, server_port=args.port)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except (FileNotFoundError, ValueError) as err:  # bad input: the message says what and how to fix it
        sys.exit(f"error: {err}")
