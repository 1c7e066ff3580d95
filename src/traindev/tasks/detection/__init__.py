"""Object detection as chapter 4.3 of the notes teaches it: localization, sliding windows, YOLO.

Conventions every module here shares (docs/detection.md):

- a box is (x_min, y_min, x_max, y_max) in pixels of the stored image, origin at the top-left
  corner, x to the right, y down, as floats; a box table has one row per object;
- a YOLO target or raw model output is a tensor (N, S, S, B, 5 + C) laid out as the notes write
  y: (p_c, b_x, b_y, b_h, b_w, c_1 .. c_C), with b_x, b_y relative to the cell and b_h, b_w in
  cell units (above 1 for an object larger than its cell); [n, i, j] is the cell i rows down
  and j columns across; anchors (B, 2) are (width, height) in cell units;
- predictions are boxes, scores and class indices per image after the p_c threshold and
  per-class non-max suppression;
- a sliding-window detector returns its windows' boxes (K, 4) and logits (N, K, C + 1), the
  background class last; a classification-with-localization network returns raw (N, 5 + C);
- evaluate's scorer decodes a YOLO detector with its checkpoint's `yolo_targets()`
  (targets.YoloTargets: image size, grid, anchors, classes), passed as `checkpoint=`.
"""
