"""Semantic segmentation with U-Net, as chapter 4.3 of the notes teaches it (issue 21).

Conventions every module here shares (docs/segmentation.md):

- a mask is an integer array (H, W) (a batch (N, H, W)) of class indices into the task's class
  list; class 0 is `background` for the embedded canvases, and `ignore_index` (params, 255 by
  default) marks pixels no metric, loss or error type counts;
- model output is logits (N, C, H', W'); with `same` padding H' = H, with the paper's `valid`
  padding the output is the centre crop `unet.output_size` says, and truth is cropped to it;
- the per-image error (the five-row table's unit) is 1 - the image's mean IoU over the classes
  present in its truth or its prediction (`metrics.image_errors`).
"""
