"""Object detection: boxes, the YOLOv1 grid, targets, loss and decoding, and mAP.

Boxes are float arrays (n, 4) of pixel edges (x0, y0, x1, y1), x to the right and y
down. See ``README.md`` ("Object detection") for a walk through.
"""

from fnn.detection.average_precision import APResult, CocoResult, coco_map, mean_average_precision
from fnn.detection.boxes import batched_nms, box_iou, cxcywh_to_xyxy, nms, xyxy_to_cxcywh
from fnn.detection.decode import Detections, decode
from fnn.detection.encode import encode, encode_batch
from fnn.detection.grid import YoloGrid
from fnn.detection.loss import Assignment, LossParts, assign, loss_parts, yolo_v1_loss

__all__ = ["box_iou", "xyxy_to_cxcywh", "cxcywh_to_xyxy", "nms", "batched_nms", "YoloGrid",
           "encode", "encode_batch", "yolo_v1_loss", "loss_parts", "LossParts", "assign",
           "Assignment", "decode", "Detections", "mean_average_precision", "APResult",
           "coco_map", "CocoResult"]
