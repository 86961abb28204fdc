"""The toy world's definition: class ids, the unseen split, shape rasterization and scene composition."""
from __future__ import annotations

import math

import numpy as np
import pytest

from gpa_toy import render
from gpa_toy.world import (
    ALL_CLASSES,
    COLOURS,
    SEEN_THINGS,
    SHAPES,
    STUFF_CLASSES,
    THING_CLASSES,
    UNSEEN_THINGS,
    check_unseen_split,
    class_by_id,
    class_by_name,
)


def test_class_ids_things_then_stuff_and_names():
    assert [c.id for c in THING_CLASSES] == list(range(1, 65))
    assert [c.id for c in STUFF_CLASSES] == [65, 66, 67, 68]
    assert [c.name for c in STUFF_CLASSES] == ["stripes", "dots", "grid", "waves"]
    assert class_by_id(1).name == "red circle" and class_by_name("pink crescent").id == 64
    assert len({c.name for c in ALL_CLASSES}) == 68
    for c in THING_CLASSES:
        assert c.isthing and c.name == f"{c.colour.name} {c.shape.name}"


def test_unseen_split_is_compositional():
    assert len(UNSEEN_THINGS) == 16 and len(SEEN_THINGS) == 48
    assert not set(UNSEEN_THINGS) & set(SEEN_THINGS)
    for colour in COLOURS:
        assert sum(c.colour == colour for c in SEEN_THINGS) >= 2, colour.name
        assert sum(c.colour == colour for c in UNSEEN_THINGS) == 2, colour.name
    for shape in SHAPES:
        assert sum(c.shape == shape for c in SEEN_THINGS) >= 2, shape.name
        assert sum(c.shape == shape for c in UNSEEN_THINGS) == 2, shape.name


def test_check_unseen_split_rejects_a_colour_left_without_seen_combinations():
    all_red = tuple(c for c in THING_CLASSES if c.colour.name == "red")[:7]
    with pytest.raises(ValueError, match="colour 'red' appears in 1 seen combinations"):
        check_unseen_split(all_red)
    with pytest.raises(ValueError, match="textures"):
        check_unseen_split((STUFF_CLASSES[0],))
    with pytest.raises(ValueError, match="repeats"):
        check_unseen_split((THING_CLASSES[0], THING_CLASSES[0]))


def test_unknown_names_and_ids_list_what_exists():
    with pytest.raises(KeyError, match="colours"):
        class_by_name("green dragon")
    with pytest.raises(KeyError, match="1..68"):
        class_by_id(99)


@pytest.mark.parametrize("angle", [0.0, 0.7, 2.0])
def test_shape_areas_match_geometry_at_any_rotation(angle):
    r = 40.0
    shapes = {s.name: s for s in SHAPES}
    # name -> (exact area, perimeter); the raster may differ by at most a one-pixel band along the boundary
    geometry = {
        "circle": (math.pi * r**2, 2 * math.pi * r),
        "square": (2 * r**2, 4 * math.sqrt(2) * r),  # inscribed in the circle: side r * sqrt(2)
        "triangle": (3 * math.sqrt(3) / 4 * r**2, 3 * math.sqrt(3) * r),
        "ring": (math.pi * r**2 * (1 - 0.55**2), 2 * math.pi * r * 1.55),
    }
    for name, (area, perimeter) in geometry.items():
        mask = render.shape_mask(shapes[name], 100, 100, (50.0, 50.0), r, angle)
        assert abs(mask.sum() - area) <= perimeter, name
    ring = render.shape_mask(shapes["ring"], 100, 100, (50.0, 50.0), r, angle)
    assert not ring[50, 50] and ring[50, 50 + int(0.8 * r)]  # a hole in the middle, the band around it


def test_shapes_differ_from_each_other():
    masks = [render.shape_mask(s, 64, 64, (32.0, 32.0), 24.0, 0.3) for s in SHAPES]
    for i in range(len(masks)):
        for j in range(i + 1, len(masks)):
            iou = (masks[i] & masks[j]).sum() / (masks[i] | masks[j]).sum()
            assert iou < 0.9, (SHAPES[i].name, SHAPES[j].name, iou)


def test_textures_are_near_gray_and_objects_saturated():
    rng = np.random.default_rng(0)
    for texture in STUFF_CLASSES:
        image = render.texture_image(texture, rng, 32, 32)
        spread = image.max(axis=-1) - image.min(axis=-1)
        assert spread.max() <= 2 * render.TEXTURE_TINT
        assert len(np.unique(image.reshape(-1, 3), axis=0)) == 2  # base and ink
    for colour in COLOURS:
        assert max(colour.rgb) - min(colour.rgb) > 100, colour.name


def test_render_scene_label_map_matches_classes_and_occlusion():
    rng = np.random.default_rng(3)
    things = [class_by_name("red circle"), class_by_name("blue star"), class_by_name("green ring")]
    scene = render.render_scene(rng, 96, things, [STUFF_CLASSES[0], STUFF_CLASSES[2]], (9, 22))
    labels = np.unique(scene.label_map)
    assert labels.tolist() == list(range(1, len(scene.classes) + 1))  # no void, every segment visible
    for k, c in enumerate(scene.classes):
        mask = scene.mask(k)
        if c.isthing:  # object pixels are the object's colour (+ jitter and noise)
            mean = scene.image[mask].mean(axis=0)
            assert np.abs(mean - np.array(c.colour.rgb)).max() < render.COLOUR_JITTER + 3, c.name


def test_render_scene_rejects_bad_inputs():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="radius_range"):
        render.render_scene(rng, 32, [THING_CLASSES[0]], [STUFF_CLASSES[0]], (5, 20))
    with pytest.raises(ValueError, match="not a colour x shape"):
        render.render_scene(rng, 32, [STUFF_CLASSES[1]], [STUFF_CLASSES[0]], (5, 10))
    with pytest.raises(ValueError, match="one or two different textures"):
        render.render_scene(rng, 32, [], [STUFF_CLASSES[0]] * 2, (5, 10))
