"""Every option list of the language, as name -> meaning (the meanings feed docs and hints).

A key's value is one of these names (written bare in a spec: ``norm = channel_layer``).
The runtime maps each name to its class (`runtime.norms`, `runtime.activations`); a test
checks that both sides list the same names.
"""

from __future__ import annotations

__all__ = [
    "NORMS", "ACTIVATIONS", "ATTENTION_KINDS", "MIXER_KINDS", "WINDOW_SIZING", "LAYOUTS",
    "DOWNSAMPLE", "DOWNSAMPLE_NORMS", "UPSAMPLE", "STEM_NORMS", "BACKBONES", "HEADS",
    "VALUE_NAMES", "FRAME_MIXING_NORMS", "REL_POS_TABLES", "SOANET_OUTPUTS", "OUTPUT_NORMS",
    "POS_EMBEDS", "HEAD_NORMS", "POOLS",
]  # fmt: skip


def _read(table: str) -> dict[str, dict[str, str]]:
    """`[NAME]` headings, then one ``value  meaning`` line per option."""
    out: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in table.strip().splitlines():
        if line.startswith("["):
            current = out.setdefault(line.strip("[]"), {})
        else:
            name, meaning = line.split(None, 1)
            current[name] = meaning
    return out


#: every option list: NAME -> {value: meaning}
_OPTIONS = _read(
    """
[NORMS]
layer            LayerNorm over [C, H, W] of every frame (static H, W; 2·C·H·W parameters)
channel_layer    LayerNorm over C at every pixel, as in ViT/Swin (2C parameters)
batch2d          BatchNorm2d over the B·D frames (2C parameters)
instance2d       InstanceNorm2d of every frame, not affine (no parameters)
batch3d          BatchNorm3d over the whole [D, H, W] map (2C parameters)
instance3d       InstanceNorm3d over the whole [D, H, W] map, not affine
[ACTIVATIONS]
elu              ELU
relu             ReLU
leakyrelu        LeakyReLU with slope 0.1
prelu            PReLU with one learned slope per module (init 0.25)
relu6            ReLU6
selu             SELU
celu             CELU
gelu             GELU, tanh approximation
gelu_erf         GELU, exact (erf), as in timm and MONAI models
[ATTENTION_KINDS]
conv             Q, K, V and the output projection are the family's convolutions
lin              Q, K, V and the output projection are linear maps of each token's features
[MIXER_KINDS]
conv             conv3 -> activation -> conv3, per frame
lin              lin -> activation -> lin on each token's features
[WINDOW_SIZING]
keep_window_size every level uses the window as written
keep_num_window  the window halves with every halving of the map
mixed            the window halves with every second halving of the map
[LAYOUTS]
sequential       x + core(norm(x)), then + mixer(norm(.))
parallel         x + core(norm(x)) + mixer(norm(x))
[DOWNSAMPLE]
interpolate      linear interpolation to half size, then conv1
stride           a conv with stride 2
merge            fold 2x2 (or 2x2x2) neighbours into channels, then a bias-free conv1
[DOWNSAMPLE_NORMS]
none             no norm in a downsampling step
channel_layer    with merge: LayerNorm over the 4C (8C) folded channels at every pixel before conv1
[UPSAMPLE]
linear           linear interpolation, then conv1
nearest          nearest-neighbour interpolation, then conv1
[BACKBONES]
unet             encoder levels, a bridge and a decoder with skip connections
hrnet            parallel resolutions, fused after every stage
soanet           a stack of attention stages
[HEADS]
conv             a 1x1x1 conv to out_channels at every pixel
classify         mean over D, H, W, then a linear layer to classes
[REL_POS_TABLES]
level_window     the table fits the cell's window at its level ((2g-1) rows per axis of its grid)
written_window   the written window's table at every level; a clamped window uses its first entries
[SOANET_OUTPUTS]
stage_outputs    every stage's output
stage_inputs     every stage's input, then the final downsample's output (MONAI SwinTransformer)
[OUTPUT_NORMS]
none             the outputs as computed
channel_layer    LayerNorm over C at every pixel of every output, affine (2C parameters each)
channel_layer_plain LayerNorm over C at every pixel of every output, without affine parameters
[POS_EMBEDS]
none             no position embedding
learned          a learned vector per token, the class token first, added after the stem
learned_map      a learned vector per pixel of the map (the class token gets none)
[HEAD_NORMS]
none             no norm before the pooling
channel_layer    LayerNorm over C at every pixel (and the class token) before the pooling
[POOLS]
mean             the mean over the map's pixels (D, H, W; never the class token)
token            the class token of the last stage (needs stem { class_token = true })
"""
)
NORMS: dict[str, str] = _OPTIONS["NORMS"]
ACTIVATIONS: dict[str, str] = _OPTIONS["ACTIVATIONS"]
ATTENTION_KINDS: dict[str, str] = _OPTIONS["ATTENTION_KINDS"]
MIXER_KINDS: dict[str, str] = _OPTIONS["MIXER_KINDS"]
WINDOW_SIZING: dict[str, str] = _OPTIONS["WINDOW_SIZING"]
LAYOUTS: dict[str, str] = _OPTIONS["LAYOUTS"]
DOWNSAMPLE: dict[str, str] = _OPTIONS["DOWNSAMPLE"]
#: the norm inside a `merge` downsampling step (backbone key `downsample_norm`)
DOWNSAMPLE_NORMS: dict[str, str] = _OPTIONS["DOWNSAMPLE_NORMS"]
UPSAMPLE: dict[str, str] = _OPTIONS["UPSAMPLE"]
#: the stem's norm: any norm, or none
STEM_NORMS: dict[str, str] = {**NORMS, "none": "no norm after the patch embedding"}
BACKBONES: dict[str, str] = _OPTIONS["BACKBONES"]
HEADS: dict[str, str] = _OPTIONS["HEADS"]
REL_POS_TABLES: dict[str, str] = _OPTIONS["REL_POS_TABLES"]
SOANET_OUTPUTS: dict[str, str] = _OPTIONS["SOANET_OUTPUTS"]
OUTPUT_NORMS: dict[str, str] = _OPTIONS["OUTPUT_NORMS"]
POS_EMBEDS: dict[str, str] = _OPTIONS["POS_EMBEDS"]
HEAD_NORMS: dict[str, str] = _OPTIONS["HEAD_NORMS"]
POOLS: dict[str, str] = _OPTIONS["POOLS"]

#: every bare name that stands for a value of some key; a `let` may not take one
VALUE_NAMES: frozenset[str] = frozenset().union(
    NORMS, ACTIVATIONS, ATTENTION_KINDS, MIXER_KINDS, WINDOW_SIZING, LAYOUTS, DOWNSAMPLE,
    DOWNSAMPLE_NORMS, UPSAMPLE, STEM_NORMS, BACKBONES, HEADS, REL_POS_TABLES, SOANET_OUTPUTS,
    OUTPUT_NORMS, POS_EMBEDS, HEAD_NORMS, POOLS,
)  # fmt: skip

#: norms whose statistics mix frames (a causal temporal cell may not use them)
FRAME_MIXING_NORMS: frozenset[str] = frozenset({"batch2d", "batch3d", "instance3d"})
