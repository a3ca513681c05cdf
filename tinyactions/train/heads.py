"""A 26-way multi-label recognition head for mmaction2's Recognizer3D.

mmaction2's heads are single-label at heart: ``average_clips='prob'`` is a softmax over classes and the
loss path casts targets to long. This head keeps I3DHead's layers (dropout, pooling, fc) and changes
only what multi-label needs: float targets (and the teacher's scores for distillation, which travel
per sample as ``teacher_scores``), and per-class sigmoid scores averaged over test views.
"""

from __future__ import annotations

import torch
from mmaction.models.heads import I3DHead
from mmaction.registry import MODELS


@MODELS.register_module()
class MultiLabelHead(I3DHead):
    def loss_by_feat(self, cls_scores: torch.Tensor, data_samples) -> dict:
        labels = torch.stack([ds.gt_label for ds in data_samples]).to(cls_scores.device).float()
        labels = labels.view(cls_scores.shape)
        if getattr(self.loss_cls, "uses_teacher", False):
            missing = [ds.metainfo.get("sample_id", "?") for ds in data_samples if "teacher_scores" not in ds]
            if missing:
                raise KeyError(f"no teacher scores for samples {missing[:5]}")
            teacher = torch.stack([torch.as_tensor(ds.teacher_scores) for ds in data_samples])
            loss = self.loss_cls(cls_scores, labels, teacher.to(cls_scores.device).float())
        else:
            loss = self.loss_cls(cls_scores, labels)
        return {"loss_cls": loss}

    def average_clip(self, cls_scores: torch.Tensor, num_segs: int = 1) -> torch.Tensor:
        """Sigmoid scores per class, averaged over the test views of each video."""
        probs = torch.sigmoid(cls_scores)
        return probs.view(-1, num_segs, probs.shape[-1]).mean(dim=1)
