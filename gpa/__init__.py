"""gpa: generalization-preserving adaptation of CLIP for open-vocabulary segmentation."""
