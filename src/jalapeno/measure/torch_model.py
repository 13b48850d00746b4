"""A minimal dense GQA decoder in plain torch, with random weights, for timing real shapes.

Per layer: RMSNorm -> fused QKV linear (+bias) -> [q/k RMSNorm] -> RoPE -> write K/V into a static cache
-> SDPA -> o_proj -> residual; RMSNorm -> fused gate_up -> SiLU(gate)*up -> down -> residual. Then a final
RMSNorm and the LM head over the last token of each sequence only. Nothing is fused beyond what torch
does; this is a reference engine, not vLLM.

Cache layout per layer: ``(B, kv_heads, max_len, head_dim)``. ``prefill`` fills positions ``[0, S)``;
``decode`` writes position ``pos`` and attends over ``[0, pos]`` (a sliding window narrows that).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jalapeno.measure.shapes import check_supported, qkv_out
from jalapeno.models.config import ModelConfig

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # jalapeno.measure.device.require_torch() reports it
    torch = None  # type: ignore[assignment]  # torch installed: a Module name (see pyproject [tool.mypy])
    F = None  # type: ignore[assignment]

EPS = 1e-6
ROPE_THETA = 1e6


@dataclass
class Layer:
    ln1: Any
    w_qkv: Any  # (qkv_out, H), F.linear layout
    b_qkv: Any
    q_norm: Any
    k_norm: Any
    w_o: Any  # (H, heads*hd)
    b_o: Any
    ln2: Any
    w_gate_up: Any  # (2I, H)
    b_gate_up: Any
    w_down: Any  # (H, I)
    b_down: Any


def _normal(shape: tuple[int, ...], std: float, dtype: Any, device: Any) -> Any:
    return torch.empty(shape, dtype=dtype, device=device).normal_(0.0, std)


def _linear(n: int, k: int, dtype: Any, device: Any) -> Any:
    return _normal((n, k), k**-0.5, dtype, device)


def _bias(on: bool, n: int, dtype: Any, device: Any) -> Any:
    return _normal((n,), 0.02, dtype, device) if on else None


def _ones(on: bool, n: int, dtype: Any, device: Any) -> Any:
    return torch.ones(n, dtype=dtype, device=device) if on else None


def gqa_mode(heads: int, kv_heads: int, head_dim: int, dtype: Any, device: Any) -> str:
    """``"native"`` when SDPA's ``enable_gqa`` runs on a fused kernel here, else ``"repeat"`` (copy K/V).

    On CUDA only the flash backend takes ``enable_gqa``; others would silently fall back to math.
    """
    if heads == kv_heads:
        return "native"
    q = torch.zeros(1, heads, 4, head_dim, dtype=dtype, device=device)
    kv = torch.zeros(1, kv_heads, 4, head_dim, dtype=dtype, device=device)
    try:
        if device.type == "cuda":
            from torch.nn.attention import SDPBackend, sdpa_kernel

            with sdpa_kernel([SDPBackend.FLASH_ATTENTION]):
                F.scaled_dot_product_attention(q, kv, kv, enable_gqa=True)
            torch.cuda.synchronize(device)
        else:
            F.scaled_dot_product_attention(q, kv, kv, enable_gqa=True)
        return "native"
    except Exception:
        return "repeat"


def attention(q: Any, k: Any, v: Any, *, causal: bool, mode: str, mask: Any = None) -> Any:
    """SDPA over ``q (B, heads, T, hd)`` and ``k, v (B, kv_heads, L, hd)``."""
    if q.shape[1] == k.shape[1]:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal and mask is None)
    if mode == "native" and mask is None:
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=True)
    rep = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal and mask is None)


def rope(x: Any, cos: Any, sin: Any) -> Any:
    """Rotate-half RoPE; ``cos``/``sin`` broadcast over ``x (B, n, T, hd)``."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return x * cos + torch.cat((-x2, x1), dim=-1) * sin


def rope_tables(max_len: int, head_dim: int, dtype: Any, device: Any) -> tuple[Any, Any]:
    inv = 1.0 / (ROPE_THETA ** (torch.arange(0, head_dim, 2, device=device, dtype=torch.float64) / head_dim))
    ang = torch.outer(torch.arange(max_len, device=device, dtype=torch.float64), inv)  # (L, hd/2)
    ang = torch.cat((ang, ang), dim=-1)  # (L, hd)
    return ang.cos().to(dtype), ang.sin().to(dtype)


class TorchDecoder:
    """Random-weight decoder for ``cfg`` on ``device``; call ``alloc_cache`` before ``prefill``/``decode``."""

    def __init__(self, cfg: ModelConfig, device: Any, dtype: Any = None, seed: int = 0) -> None:
        check_supported(cfg)
        self.cfg, self.device = cfg, device
        self.dtype = dtype or (torch.bfloat16 if device.type == "cuda" else torch.float32)
        torch.manual_seed(seed)
        h, dt = cfg.hidden_size, self.dtype
        self.embed = _normal((cfg.vocab_size, h), 1.0, dt, device)
        self.layers = [self._layer() for _ in range(cfg.num_layers)]
        self.norm = torch.ones(h, dtype=dt, device=device)
        self.lm_head = self.embed if cfg.tie_embeddings else _linear(cfg.vocab_size, h, dt, device)
        self.mode = gqa_mode(cfg.num_heads, cfg.num_kv_heads, cfg.head_dim, dt, device)
        self.cache_k: list[Any] = []
        self.cache_v: list[Any] = []
        self.cos: Any = None
        self.sin: Any = None

    def weight_bytes(self) -> int:
        tensors = [self.embed, self.norm, *([] if self.cfg.tie_embeddings else [self.lm_head])]
        tensors += [t for L in self.layers for t in vars(L).values() if t is not None]
        return sum(t.numel() * t.element_size() for t in tensors)

    def _layer(self) -> Layer:
        c, dt, dev = self.cfg, self.dtype, self.device
        h, i, hd = c.hidden_size, c.intermediate_size, c.head_dim
        return Layer(
            ln1=torch.ones(h, dtype=dt, device=dev),
            w_qkv=_linear(qkv_out(c), h, dt, dev),
            b_qkv=_bias(c.qkv_bias, qkv_out(c), dt, dev),
            q_norm=_ones(c.qk_norm, hd, dt, dev),
            k_norm=_ones(c.qk_norm, hd, dt, dev),
            w_o=_linear(h, c.num_heads * hd, dt, dev),
            b_o=_bias(c.o_bias, h, dt, dev),
            ln2=torch.ones(h, dtype=dt, device=dev),
            w_gate_up=_linear(2 * i, h, dt, dev),
            b_gate_up=_bias(c.mlp_bias, 2 * i, dt, dev),
            w_down=_linear(h, i, dt, dev),
            b_down=_bias(c.mlp_bias, h, dt, dev),
        )

    # ---- cache ----

    def alloc_cache(self, batch: int, max_len: int, fill: bool = True) -> None:
        """Static per-layer K/V of ``(batch, kv_heads, max_len, head_dim)``, random-filled (as if cached)."""
        self.free_cache()
        c = self.cfg
        shape = (batch, c.num_kv_heads, max_len, c.head_dim)
        make = (
            (lambda: _normal(shape, 1.0, self.dtype, self.device))
            if fill
            else (lambda: torch.zeros(shape, dtype=self.dtype, device=self.device))
        )
        self.cache_k = [make() for _ in range(c.num_layers)]
        self.cache_v = [make() for _ in range(c.num_layers)]
        self.cos, self.sin = rope_tables(max_len, c.head_dim, self.dtype, self.device)

    def free_cache(self) -> None:
        self.cache_k, self.cache_v, self.cos, self.sin = [], [], None, None

    # ---- forward ----

    def prefill(self, tokens: Any) -> Any:
        """``tokens (B, S)`` from position 0; fills cache ``[0, S)``; logits ``(B, vocab)`` of the last
        token."""
        s = tokens.shape[1]
        cos, sin = self.cos[:s], self.sin[:s]  # (S, hd)
        mask = self._window_mask(s)
        x = F.embedding(tokens, self.embed)  # (B, S, H)
        for li, layer in enumerate(self.layers):
            x = self._block(li, layer, x, cos, sin, pos=0, decode=False, mask=mask)
        return self._logits(x[:, -1:])

    def decode(self, tokens: Any, pos: int) -> Any:
        """``tokens (B,)`` at position ``pos`` (``pos`` tokens already cached); logits ``(B, vocab)``."""
        cos, sin = self.cos[pos], self.sin[pos]  # (hd,)
        x = F.embedding(tokens, self.embed).unsqueeze(1)  # (B, 1, H)
        for li, layer in enumerate(self.layers):
            x = self._block(li, layer, x, cos, sin, pos=pos, decode=True, mask=None)
        return self._logits(x)

    def _logits(self, x: Any) -> Any:
        x = F.rms_norm(x, (self.cfg.hidden_size,), self.norm, EPS)
        return F.linear(x, self.lm_head)[:, 0]  # (B, vocab)

    def _window_mask(self, s: int) -> Any:
        w = self.cfg.sliding_window
        if w is None or w >= s or "sliding" not in self.cfg.layer_attention:
            return None
        i = torch.arange(s, device=self.device)
        return (i[None, :] <= i[:, None]) & (i[:, None] - i[None, :] < w)  # (S, S) True = attend

    def _block(
        self, li: int, L: Layer, x: Any, cos: Any, sin: Any, *, pos: int, decode: bool, mask: Any
    ) -> Any:
        x = x + self._attn(
            li,
            L,
            F.rms_norm(x, (self.cfg.hidden_size,), L.ln1, EPS),
            cos,
            sin,
            pos=pos,
            decode=decode,
            mask=mask,
        )
        h = F.rms_norm(x, (self.cfg.hidden_size,), L.ln2, EPS)
        gate, up = F.linear(h, L.w_gate_up, L.b_gate_up).chunk(2, dim=-1)  # (B, T, I) each
        return x + F.linear(F.silu(gate) * up, L.w_down, L.b_down)

    def _attn(
        self, li: int, L: Layer, h: Any, cos: Any, sin: Any, *, pos: int, decode: bool, mask: Any
    ) -> Any:
        c = self.cfg
        b, t, _ = h.shape
        nh, nkv, hd = c.num_heads, c.num_kv_heads, c.head_dim
        q, k, v = F.linear(h, L.w_qkv, L.b_qkv).split([nh * hd, nkv * hd, nkv * hd], dim=-1)
        q = q.view(b, t, nh, hd).transpose(1, 2)  # (B, nh, T, hd)
        k = k.view(b, t, nkv, hd).transpose(1, 2)  # (B, nkv, T, hd)
        v = v.view(b, t, nkv, hd).transpose(1, 2)
        if c.qk_norm:
            q = F.rms_norm(q, (hd,), L.q_norm, EPS)
            k = F.rms_norm(k, (hd,), L.k_norm, EPS)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        ck, cv = self.cache_k[li], self.cache_v[li]
        ck[:, :, pos : pos + t] = k
        cv[:, :, pos : pos + t] = v
        if decode:
            lo = self._window_start(li, pos)
            out = attention(q, ck[:, :, lo : pos + 1], cv[:, :, lo : pos + 1], causal=False, mode=self.mode)
        else:
            out = attention(q, k, v, causal=True, mode=self.mode, mask=mask if self._sliding(li) else None)
        out = out.transpose(1, 2).reshape(b, t, nh * hd)  # (B, T, nh*hd)
        return F.linear(out, L.w_o, L.b_o)

    def _sliding(self, li: int) -> bool:
        return self.cfg.layer_attention[li] == "sliding" and self.cfg.sliding_window is not None

    def _window_start(self, li: int, pos: int) -> int:
        w = self.cfg.sliding_window
        return max(0, pos + 1 - w) if w is not None and self._sliding(li) else 0
