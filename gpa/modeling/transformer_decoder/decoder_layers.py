"""Building blocks of the masked-attention transformer decoder (batch-first, Mask2Former parameter names)."""
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["MLP", "CrossAttentionLayer", "FFNLayer", "SelfAttentionLayer"]


def _xavier_init_matrices(module: nn.Module) -> None:
    for p in module.parameters():
        if p.dim() > 1:
            nn.init.xavier_uniform_(p)


def _with_pos(x: Tensor, pos: Tensor | None) -> Tensor:
    return x if pos is None else x + pos


class SelfAttentionLayer(nn.Module):
    """Query self-attention with residual; LayerNorm after (default) or before (`normalize_before`)."""

    def __init__(self, d_model: int, nhead: int, dropout: float = 0.0, normalize_before: bool = False):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=True)
        self.norm = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        self.normalize_before = normalize_before
        _xavier_init_matrices(self)

    def forward(self, tgt: Tensor, query_pos: Tensor | None = None) -> Tensor:
        """tgt [B, Q, C] -> [B, Q, C]."""
        x = self.norm(tgt) if self.normalize_before else tgt
        q = k = _with_pos(x, query_pos)
        tgt = tgt + self.dropout(self.self_attn(q, k, value=x, need_weights=False)[0])
        return tgt if self.normalize_before else self.norm(tgt)


class CrossAttentionLayer(nn.Module):
    """Queries attend to image features; `memory_mask` [B*heads, Q, HW] is True where attention is forbidden."""

    def __init__(self, d_model: int, nhead: int, dropout: float = 0.0, normalize_before: bool = False):
        super().__init__()
        self.multihead_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=True)
        self.norm = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        self.normalize_before = normalize_before
        _xavier_init_matrices(self)

    def forward(self, tgt: Tensor, memory: Tensor, memory_mask: Tensor | None = None, pos: Tensor | None = None,
                query_pos: Tensor | None = None) -> Tensor:
        """tgt [B, Q, C], memory [B, HW, C] -> [B, Q, C]."""
        x = self.norm(tgt) if self.normalize_before else tgt
        attended = self.multihead_attn(
            query=_with_pos(x, query_pos), key=_with_pos(memory, pos), value=memory, attn_mask=memory_mask,
            need_weights=False,
        )[0]
        tgt = tgt + self.dropout(attended)
        return tgt if self.normalize_before else self.norm(tgt)


class FFNLayer(nn.Module):
    """Two-layer ReLU feed-forward block with residual."""

    def __init__(self, d_model: int, dim_feedforward: int = 2048, dropout: float = 0.0, normalize_before: bool = False):
        super().__init__()
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm = nn.LayerNorm(d_model)
        self.normalize_before = normalize_before
        _xavier_init_matrices(self)

    def forward(self, tgt: Tensor) -> Tensor:
        x = self.norm(tgt) if self.normalize_before else tgt
        tgt = tgt + self.dropout(self.linear2(self.dropout(F.relu(self.linear1(x)))))
        return tgt if self.normalize_before else self.norm(tgt)


class MLP(nn.Module):
    """`num_layers` linear layers with ReLU between them (none after the last)."""

    def __init__(self, input_dim: int, hidden_dim: int, output_dim: int, num_layers: int):
        super().__init__()
        dims = [input_dim] + [hidden_dim] * (num_layers - 1) + [output_dim]
        self.layers = nn.ModuleList(nn.Linear(i, o) for i, o in zip(dims[:-1], dims[1:]))

    def forward(self, x: Tensor) -> Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = F.relu(x)
        return x
