"""TorchScript-ready implementations of the network families in NVlabs EDM snapshots.

Written for this project from the architecture as EDM's paper and its public network source
describe it (DDPM++ / NCSN++ "SongUNet", ADM "DhariwalUNet", the VP / VE / iDDPM / EDM
preconditionings); no code is taken from it. Module, parameter and buffer names follow EDM's, so
the ``state`` of a pickled EDM network loads here one to one (see edm_pickle.py), and constructor
arguments are EDM's ``init_kwargs``.

What differs from the eager original, so that ``torch.jit.script`` can compile it:
- every block takes ``(x, emb)`` (convolutions and norms ignore ``emb``), so the encoder and decoder
  ModuleDicts can be unrolled by the compiler whatever their mix of block types;
- attention is plain ops in float32 instead of a custom autograd Function (same values and the same
  gradients up to rounding);
- the four preconditionings are one class (``Precond``) with a kind number, and the exported
  denoiser's forward has a fixed arity: ``(x, sigma)``, or ``(x, sigma, class_labels)`` when the
  network is class-conditional (one-hot ``[N, label_dim]``).
"""
import math
from typing import List, Optional

import torch
from torch import Tensor
from torch.nn.functional import silu

EDM, VP, VE, IDDPM = 0, 1, 2, 3
PRECOND_KINDS = {'EDMPrecond': EDM, 'VPPrecond': VP, 'VEPrecond': VE, 'iDDPMPrecond': IDDPM}


def _init(shape: List[int], mode: str, fan_in: int, fan_out: int) -> Tensor:
    # Random weights only matter for fresh networks (tests, benchmarks); imports overwrite them.
    if mode == 'xavier_uniform':
        return math.sqrt(6 / (fan_in + fan_out)) * (torch.rand(shape) * 2 - 1)
    if mode == 'xavier_normal':
        return math.sqrt(2 / (fan_in + fan_out)) * torch.randn(shape)
    if mode == 'kaiming_uniform':
        return math.sqrt(3 / fan_in) * (torch.rand(shape) * 2 - 1)
    if mode == 'kaiming_normal':
        return math.sqrt(1 / fan_in) * torch.randn(shape)
    raise ValueError(f'unknown init mode {mode!r}')


class Linear(torch.nn.Module):
    def __init__(self, in_features, out_features, bias=True, init_mode='kaiming_normal', init_weight=1, init_bias=0):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = torch.nn.Parameter(_init([out_features, in_features], init_mode, in_features, out_features) * init_weight)
        self.bias = torch.nn.Parameter(_init([out_features], init_mode, in_features, out_features) * init_bias) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        x = x @ self.weight.to(x.dtype).t()
        b = self.bias
        if b is not None:
            x = x + b.to(x.dtype)
        return x


class Conv2d(torch.nn.Module):
    """3x3 / 1x1 convolution, optionally with a FIR up- or downsampling (kernel 0: resampling only)."""

    def __init__(self, in_channels, out_channels, kernel, bias=True, up=False, down=False,
                 resample_filter=(1, 1), fused_resample=False, init_mode='kaiming_normal', init_weight=1, init_bias=0):
        super().__init__()
        assert not (up and down)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.up = bool(up)
        self.down = bool(down)
        self.fused_resample = bool(fused_resample)
        fan_in, fan_out = in_channels * kernel * kernel, out_channels * kernel * kernel
        self.weight = torch.nn.Parameter(_init([out_channels, in_channels, kernel, kernel], init_mode, fan_in, fan_out) * init_weight) if kernel else None
        self.bias = torch.nn.Parameter(_init([out_channels], init_mode, fan_in, fan_out) * init_bias) if kernel and bias else None
        f = torch.as_tensor(list(resample_filter), dtype=torch.float32)
        f = f.ger(f).unsqueeze(0).unsqueeze(1) / f.sum().square()
        self.register_buffer('resample_filter', f if up or down else None)

    def forward(self, x: Tensor, emb: Optional[Tensor] = None) -> Tensor:
        w = self.weight
        f = self.resample_filter
        w_pad = 0
        convolved = False  # the fused paths apply w themselves
        if w is not None:
            w = w.to(x.dtype)
            w_pad = w.shape[-1] // 2
        if f is not None:
            f = f.to(x.dtype)
            f_pad = (f.shape[-1] - 1) // 2
            if self.fused_resample and self.up and w is not None:
                x = torch.nn.functional.conv_transpose2d(x, f.mul(4).tile([self.in_channels, 1, 1, 1]), groups=self.in_channels, stride=2, padding=max(f_pad - w_pad, 0))
                x = torch.nn.functional.conv2d(x, w, padding=max(w_pad - f_pad, 0))
                convolved = True
            elif self.fused_resample and self.down and w is not None:
                x = torch.nn.functional.conv2d(x, w, padding=w_pad + f_pad)
                x = torch.nn.functional.conv2d(x, f.tile([self.out_channels, 1, 1, 1]), groups=self.out_channels, stride=2)
                convolved = True
            elif self.up:
                x = torch.nn.functional.conv_transpose2d(x, f.mul(4).tile([self.in_channels, 1, 1, 1]), groups=self.in_channels, stride=2, padding=f_pad)
            else:
                x = torch.nn.functional.conv2d(x, f.tile([self.in_channels, 1, 1, 1]), groups=self.in_channels, stride=2, padding=f_pad)
        if w is not None and not convolved:
            x = torch.nn.functional.conv2d(x, w, padding=w_pad)
        b = self.bias
        if b is not None:
            x = x + b.to(x.dtype).reshape(1, -1, 1, 1)
        return x


class GroupNorm(torch.nn.Module):
    def __init__(self, num_channels, num_groups=32, min_channels_per_group=4, eps=1e-5):
        super().__init__()
        self.in_channels = num_channels  # read by the decoder loop, which sees every block
        self.num_groups = min(num_groups, num_channels // min_channels_per_group)
        self.eps = float(eps)
        self.weight = torch.nn.Parameter(torch.ones(num_channels))
        self.bias = torch.nn.Parameter(torch.zeros(num_channels))

    def forward(self, x: Tensor, emb: Optional[Tensor] = None) -> Tensor:
        return torch.nn.functional.group_norm(x, self.num_groups, self.weight.to(x.dtype), self.bias.to(x.dtype), self.eps)


class UNetBlock(torch.nn.Module):
    """Residual block with embedding (additive or scale/shift), optional resampling and attention."""

    def __init__(self, in_channels, out_channels, emb_channels, up=False, down=False, attention=False,
                 num_heads=None, channels_per_head=64, dropout=0, skip_scale=1, eps=1e-5,
                 resample_filter=(1, 1), resample_proj=False, adaptive_scale=True,
                 init=None, init_zero=None, init_attn=None):
        super().__init__()
        init = dict(init or {})
        init_zero = dict(init_zero if init_zero is not None else {'init_weight': 0})
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_heads = 0 if not attention else int(num_heads if num_heads is not None else out_channels // channels_per_head)
        self.dropout = float(dropout)
        self.skip_scale = float(skip_scale)
        self.adaptive_scale = bool(adaptive_scale)
        self.norm0 = GroupNorm(in_channels, eps=eps)
        self.conv0 = Conv2d(in_channels, out_channels, 3, up=up, down=down, resample_filter=resample_filter, **init)
        self.affine = Linear(emb_channels, out_channels * (2 if adaptive_scale else 1), **init)
        self.norm1 = GroupNorm(out_channels, eps=eps)
        self.conv1 = Conv2d(out_channels, out_channels, 3, **init_zero)
        self.skip = None
        if out_channels != in_channels or up or down:
            kernel = 1 if resample_proj or out_channels != in_channels else 0
            self.skip = Conv2d(in_channels, out_channels, kernel, up=up, down=down, resample_filter=resample_filter, **init)
        self.norm2 = self.qkv = self.proj = None
        if self.num_heads:
            self.norm2 = GroupNorm(out_channels, eps=eps)
            self.qkv = Conv2d(out_channels, out_channels * 3, 1, **dict(init_attn if init_attn is not None else init))
            self.proj = Conv2d(out_channels, out_channels, 1, **init_zero)

    def forward(self, x: Tensor, emb: Optional[Tensor] = None) -> Tensor:
        assert emb is not None
        orig = x
        x = self.conv0(silu(self.norm0(x)))
        params = self.affine(emb).unsqueeze(2).unsqueeze(3).to(x.dtype)
        if self.adaptive_scale:
            scale, shift = params.chunk(2, dim=1)
            x = silu(torch.addcmul(shift, self.norm1(x), scale + 1))
        else:
            x = silu(self.norm1(x + params))
        x = self.conv1(torch.nn.functional.dropout(x, p=self.dropout, training=self.training))
        skip = self.skip
        x = x + (skip(orig) if skip is not None else orig)
        x = x * self.skip_scale
        if self.norm2 is not None and self.qkv is not None and self.proj is not None:
            n, c = x.shape[0], x.shape[1]
            qkv = self.qkv(self.norm2(x)).reshape(n * self.num_heads, c // self.num_heads, 3, -1)
            q, k, v = qkv.select(2, 0), qkv.select(2, 1), qkv.select(2, 2)
            # softmax(q^T k / sqrt(c)) in float32 whatever the activations' dtype
            w = torch.einsum('ncq,nck->nqk', q.to(torch.float32), (k / math.sqrt(k.shape[1])).to(torch.float32)).softmax(dim=2).to(q.dtype)
            a = torch.einsum('nqk,nck->ncq', w, v)
            x = (self.proj(a.reshape(x.shape)) + x) * self.skip_scale
        return x


class PositionalEmbedding(torch.nn.Module):
    def __init__(self, num_channels, max_positions=10000, endpoint=False):
        super().__init__()
        self.num_channels = num_channels
        self.max_positions = max_positions
        self.endpoint = bool(endpoint)

    def forward(self, x: Tensor) -> Tensor:
        half = self.num_channels // 2
        freqs = torch.arange(0, half, dtype=torch.float32, device=x.device) / (half - (1 if self.endpoint else 0))
        freqs = (1 / self.max_positions) ** freqs
        x = x.ger(freqs.to(x.dtype))
        return torch.cat([x.cos(), x.sin()], dim=1)


class FourierEmbedding(torch.nn.Module):
    def __init__(self, num_channels, scale=16):
        super().__init__()
        self.register_buffer('freqs', torch.randn(num_channels // 2) * scale)

    def forward(self, x: Tensor) -> Tensor:
        x = x.ger((2 * math.pi * self.freqs).to(x.dtype))
        return torch.cat([x.cos(), x.sin()], dim=1)


def _float(v):
    return float(v) if not isinstance(v, (list, tuple)) else [_float(e) for e in v]


def _decoder(dec, img_resolution: int, channel_mult, num_blocks: int, model_channels: int, cout: int, skips, blk,
             attention):
    """Fills the decoder both UNets share, in EDM's order and names: per level, coarsest first, two middle
    blocks (the first with attention) or an upsampling block, then num_blocks + 1 blocks that each take a
    skip; attention(res, idx) says which of those attend. Yields (level, res, channels) after each level,
    so that SongUNet can add its output blocks there (a ModuleDict runs in insertion order)."""
    for level, mult in reversed(list(enumerate(channel_mult))):
        res = img_resolution >> level
        if level == len(channel_mult) - 1:
            dec[f'{res}x{res}_in0'] = UNetBlock(cout, cout, attention=True, **blk)
            dec[f'{res}x{res}_in1'] = UNetBlock(cout, cout, **blk)
        else:
            dec[f'{res}x{res}_up'] = UNetBlock(cout, cout, up=True, **blk)
        for idx in range(num_blocks + 1):
            cin, cout = cout + skips.pop(), model_channels * mult
            dec[f'{res}x{res}_block{idx}'] = UNetBlock(cin, cout, attention=attention(res, idx), **blk)
        yield level, res, cout


class SongUNet(torch.nn.Module):
    """DDPM++ (positional embedding, standard encoder) and NCSN++ (Fourier, residual/skip encoder)."""

    def __init__(self, img_resolution, in_channels, out_channels, label_dim=0, augment_dim=0,
                 model_channels=128, channel_mult=(1, 2, 2, 2), channel_mult_emb=4, num_blocks=4,
                 attn_resolutions=(16,), dropout=0.10, label_dropout=0, embedding_type='positional',
                 channel_mult_noise=1, encoder_type='standard', decoder_type='standard', resample_filter=(1, 1)):
        super().__init__()
        if embedding_type not in ('fourier', 'positional') or encoder_type not in ('standard', 'skip', 'residual') \
                or decoder_type not in ('standard', 'skip'):
            raise ValueError(f'SongUNet: unsupported embedding/encoder/decoder type {embedding_type}/{encoder_type}/{decoder_type}')
        self.label_dropout = float(label_dropout)
        emb_ch = model_channels * channel_mult_emb
        noise_ch = model_channels * channel_mult_noise
        init = dict(init_mode='xavier_uniform')
        init_zero = dict(init_mode='xavier_uniform', init_weight=1e-5)
        init_attn = dict(init_mode='xavier_uniform', init_weight=math.sqrt(0.2))
        blk = dict(emb_channels=emb_ch, num_heads=1, dropout=dropout, skip_scale=math.sqrt(0.5), eps=1e-6,
                   resample_filter=resample_filter, resample_proj=True, adaptive_scale=False,
                   init=init, init_zero=init_zero, init_attn=init_attn)
        self.map_noise = PositionalEmbedding(noise_ch, endpoint=True) if embedding_type == 'positional' else FourierEmbedding(noise_ch)
        self.map_label = Linear(label_dim, noise_ch, **init) if label_dim else None
        # augment labels (EDM's training-time augmentation) are never given at sampling time; the
        # layer is kept so that the parameters load and save unchanged
        self.map_augment = Linear(augment_dim, noise_ch, bias=False, **init) if augment_dim else None
        self.map_layer0 = Linear(noise_ch, emb_ch, **init)
        self.map_layer1 = Linear(emb_ch, emb_ch, **init)

        self.enc = torch.nn.ModuleDict()
        cout = caux = in_channels
        for level, mult in enumerate(channel_mult):
            res = img_resolution >> level
            if level == 0:
                cin, cout = cout, model_channels
                self.enc[f'{res}x{res}_conv'] = Conv2d(cin, cout, 3, **init)
            else:
                self.enc[f'{res}x{res}_down'] = UNetBlock(cout, cout, down=True, **blk)
                if encoder_type == 'skip':
                    self.enc[f'{res}x{res}_aux_down'] = Conv2d(caux, caux, 0, down=True, resample_filter=resample_filter)
                    self.enc[f'{res}x{res}_aux_skip'] = Conv2d(caux, cout, 1, **init)
                if encoder_type == 'residual':
                    self.enc[f'{res}x{res}_aux_residual'] = Conv2d(caux, cout, 3, down=True, resample_filter=resample_filter, fused_resample=True, **init)
                    caux = cout
            for idx in range(num_blocks):
                cin, cout = cout, model_channels * mult
                self.enc[f'{res}x{res}_block{idx}'] = UNetBlock(cin, cout, attention=res in attn_resolutions, **blk)
        skips = [b.out_channels for name, b in self.enc.items() if 'aux' not in name]

        self.dec = torch.nn.ModuleDict()
        attend = lambda res, idx: idx == num_blocks and res in attn_resolutions  # noqa: E731
        for level, res, cout in _decoder(self.dec, img_resolution, channel_mult, num_blocks, model_channels, cout,
                                         skips, blk, attend):
            if decoder_type == 'skip' or level == 0:
                if decoder_type == 'skip' and level < len(channel_mult) - 1:
                    self.dec[f'{res}x{res}_aux_up'] = Conv2d(out_channels, out_channels, 0, up=True, resample_filter=resample_filter)
                self.dec[f'{res}x{res}_aux_norm'] = GroupNorm(cout, eps=1e-6)
                self.dec[f'{res}x{res}_aux_conv'] = Conv2d(cout, out_channels, 3, **init_zero)

    def forward(self, x: Tensor, noise_labels: Tensor, class_labels: Optional[Tensor] = None) -> Tensor:
        emb = self.map_noise(noise_labels)
        emb = emb.reshape(emb.shape[0], 2, -1).flip(1).reshape(emb.shape)  # cos/sin order as DDPM++
        if self.map_label is not None:
            assert class_labels is not None
            labels = class_labels
            if self.training and self.label_dropout > 0:
                labels = labels * (torch.rand([x.shape[0], 1], device=x.device) >= self.label_dropout).to(labels.dtype)
            emb = emb + self.map_label(labels * math.sqrt(self.map_label.in_features))
        emb = silu(self.map_layer1(silu(self.map_layer0(emb))))

        skips: List[Tensor] = []
        aux = x
        for name, block in self.enc.items():
            if 'aux_down' in name:
                aux = block(aux, emb)
            elif 'aux_skip' in name:
                x = x + block(aux, emb)
                skips[-1] = x
            elif 'aux_residual' in name:
                x = (x + block(aux, emb)) / math.sqrt(2)
                skips[-1] = x
                aux = x
            else:
                x = block(x, emb)
                skips.append(x)

        out: Optional[Tensor] = None
        tmp = x
        for name, block in self.dec.items():
            if 'aux_up' in name:
                assert out is not None
                out = block(out, emb)
            elif 'aux_norm' in name:
                tmp = block(x, emb)
            elif 'aux_conv' in name:
                tmp = block(silu(tmp), emb)
                out = tmp if out is None else tmp + out
            else:
                if x.shape[1] != block.in_channels:
                    x = torch.cat([x, skips.pop()], dim=1)
                x = block(x, emb)
        assert out is not None
        return out


class DhariwalUNet(torch.nn.Module):
    """ADM (Dhariwal & Nichol): scale/shift embedding, multi-head attention at several resolutions."""

    def __init__(self, img_resolution, in_channels, out_channels, label_dim=0, augment_dim=0,
                 model_channels=192, channel_mult=(1, 2, 3, 4), channel_mult_emb=4, num_blocks=3,
                 attn_resolutions=(32, 16, 8), dropout=0.10, label_dropout=0):
        super().__init__()
        self.label_dropout = float(label_dropout)
        emb_ch = model_channels * channel_mult_emb
        init = dict(init_mode='kaiming_uniform', init_weight=math.sqrt(1 / 3), init_bias=math.sqrt(1 / 3))
        init_zero = dict(init_mode='kaiming_uniform', init_weight=0, init_bias=0)
        blk = dict(emb_channels=emb_ch, channels_per_head=64, dropout=dropout, init=init, init_zero=init_zero)
        self.map_noise = PositionalEmbedding(model_channels)
        self.map_augment = Linear(augment_dim, model_channels, bias=False, **init_zero) if augment_dim else None
        self.map_layer0 = Linear(model_channels, emb_ch, **init)
        self.map_layer1 = Linear(emb_ch, emb_ch, **init)
        self.map_label = Linear(label_dim, emb_ch, bias=False, init_mode='kaiming_normal', init_weight=math.sqrt(label_dim)) if label_dim else None

        self.enc = torch.nn.ModuleDict()
        cout = in_channels
        for level, mult in enumerate(channel_mult):
            res = img_resolution >> level
            if level == 0:
                cin, cout = cout, model_channels * mult
                self.enc[f'{res}x{res}_conv'] = Conv2d(cin, cout, 3, **init)
            else:
                self.enc[f'{res}x{res}_down'] = UNetBlock(cout, cout, down=True, **blk)
            for idx in range(num_blocks):
                cin, cout = cout, model_channels * mult
                self.enc[f'{res}x{res}_block{idx}'] = UNetBlock(cin, cout, attention=res in attn_resolutions, **blk)
        skips = [b.out_channels for b in self.enc.values()]

        self.dec = torch.nn.ModuleDict()
        levels = _decoder(self.dec, img_resolution, channel_mult, num_blocks, model_channels, cout, skips, blk,
                          lambda res, idx: res in attn_resolutions)
        cout = list(levels)[-1][2]
        self.out_norm = GroupNorm(cout)
        self.out_conv = Conv2d(cout, out_channels, 3, **init_zero)

    def forward(self, x: Tensor, noise_labels: Tensor, class_labels: Optional[Tensor] = None) -> Tensor:
        emb = self.map_layer1(silu(self.map_layer0(self.map_noise(noise_labels))))
        if self.map_label is not None:
            assert class_labels is not None
            labels = class_labels
            if self.training and self.label_dropout > 0:
                labels = labels * (torch.rand([x.shape[0], 1], device=x.device) >= self.label_dropout).to(labels.dtype)
            emb = emb + self.map_label(labels)
        emb = silu(emb)
        skips: List[Tensor] = []
        for block in self.enc.values():
            x = block(x, emb)
            skips.append(x)
        for block in self.dec.values():
            if x.shape[1] != block.in_channels:
                x = torch.cat([x, skips.pop()], dim=1)
            x = block(x, emb)
        return self.out_conv(silu(self.out_norm(x)))


MODELS = {'SongUNet': SongUNet, 'DhariwalUNet': DhariwalUNet}
