"""``blockspec train SPEC --task denoise|segment|classify --steps N ...``: the command that shows
a spec learns, on synthetic data, before real data is wired in.

`add_arguments` fills an argparse parser (the ``train`` subcommand of ``blockspec``), `run`
executes parsed arguments and returns the exit code: 0 done, 1 a spec, checkpoint or training
error (rendered on stderr), 130 interrupted (a checkpoint is written first when ``--out`` is
given). ``python -m blockspec.training.cli`` runs it stand-alone, e.g. under torchrun::

    torchrun --nproc-per-node 2 -m blockspec.training.cli examples/unet_cine.bspec --steps 500
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import warnings
from collections.abc import Sequence

__all__ = ["EPILOG", "add_arguments", "main", "run"]

EPILOG = """\
examples:
  blockspec train small.bspec --task denoise --steps 300 --out runs/a --set C=16
  blockspec train small.bspec --task segment --steps 300 --out runs/seg
  blockspec train small.bspec --task segment --steps 600 --out runs/seg --resume runs/seg
  torchrun --nproc-per-node 2 -m blockspec.training.cli small.bspec --steps 500 --out runs/ddp

Data are made on the fly (nothing is downloaded): smooth phantoms plus Gaussian noise
(denoise), random shapes with their masks (segment) or their kinds (classify).
"""


def _override(text: str) -> tuple[str, str]:
    """``NAME=VALUE`` -> (NAME, VALUE); VALUE is parsed later as a spec expression."""
    name, eq, value = text.partition("=")
    if not eq or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name.strip()) or not value.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (e.g. C=64), got {text!r}")
    return name.strip(), value.strip()


def _positive(kind: type):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind.__name__}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"{text!r} must be positive")
        return value

    parse.__name__ = kind.__name__
    return parse


def _size(text: str) -> tuple[int, int, int]:
    parts = text.lower().replace(",", "x").split("x")
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        dims = ()
    if len(dims) != 3 or min(dims) < 1:
        raise argparse.ArgumentTypeError(f"expected DxHxW (e.g. 1x64x64), got {text!r}")
    return dims  # type: ignore[return-value]


def _options() -> list[tuple[str, dict]]:
    """(flag, argparse keywords) of every option of ``blockspec train``."""
    pos = _positive
    return [
        ("--task", {"choices": ("denoise", "segment", "classify"), "default": "denoise",
                    "help": "the synthetic task (default denoise; the output the spec's head "
                    "must give: the input's shape / [B, K, D, H, W] logits / [B, K] logits)"}),
        ("--steps", {"type": pos(int), "default": 200, "metavar": "N",
                     "help": "train up to step N (default 200)"}),
        ("--batch", {"type": pos(int), "default": 4, "metavar": "B",
                     "help": "samples per step and process (default 4)"}),
        ("--lr", {"type": pos(float), "default": 1e-3, "metavar": "LR",
                  "help": "peak learning rate of AdamW (default 1e-3)"}),
        ("--weight-decay", {"type": float, "default": 0.05, "metavar": "WD",
                            "help": "AdamW weight decay of the weights (norms, biases, position "
                            "tables and temperatures get none; default 0.05)"}),
        ("--out", {"metavar": "DIR", "help": "write DIR/last.pt (a bs.load-able checkpoint "
                   "with the training state) and DIR/metrics.jsonl"}),
        ("--resume", {"metavar": "CKPT",
                      "help": "continue from a checkpoint (or a folder with last.pt)"}),
        ("--eval-every", {"type": pos(int), "metavar": "N",
                          "help": "evaluate on the held-out batch every N steps (default "
                          "steps/10)"}),
        ("--save-every", {"type": pos(int), "metavar": "N",
                          "help": "write the checkpoint every N steps (default: at "
                          "evaluations)"}),
        ("--until", {"type": pos(int), "metavar": "STEP",
                     "help": "stop at STEP (the schedule still spans --steps); resume later"}),
        ("--seed", {"type": int, "default": 0,
                    "help": "seed of the weights, the data and dropout (default 0)"}),
        ("--size", {"type": _size, "metavar": "DxHxW",
                    "help": "training size for dynamic (?) axes (default: >= 32 for H, W)"}),
        ("--noise", {"type": pos(float), "default": 0.1, "metavar": "SIGMA",
                     "help": "Gaussian noise sigma of the images, in [0, 1] units (0.1)"}),
        ("--eval-batch", {"type": pos(int), "default": 8, "metavar": "N",
                          "help": "size of the fixed held-out batch (default 8)"}),
        ("--device", {"metavar": "DEV",
                      "help": "cpu or cuda (default: cuda:LOCAL_RANK when available)"}),
        ("--set", {"action": "append", "type": _override, "metavar": "NAME=VALUE",
                   "help": "override a `let` of the spec (repeatable); VALUE is a spec "
                   "expression"}),
        ("--no-progress", {"action": "store_true",
                           "help": "no progress bar, even on a terminal"}),
    ]  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``blockspec train`` (the spec file, the task, the run's settings)."""
    parser.add_argument("spec", metavar="SPEC", help="the spec file (.bspec) to compile and train")
    for flag, kw in _options():
        parser.add_argument(flag, **kw)


def _report(err: Exception) -> None:
    from blockspec.errors import SpecError

    color = "NO_COLOR" not in os.environ and sys.stderr.isatty()
    if isinstance(err, SpecError):
        text = "\n\n".join(e.render(color=color) for e in err.errors)
    else:
        text = f"error: {err}"
    print(text, file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Train as `args` (from `add_arguments`) say; returns the exit code."""
    from blockspec.api import OverrideText
    from blockspec.errors import SpecError
    from blockspec.sources import argument_source
    from blockspec.training.loop import train

    overrides = {k: OverrideText(v) for k, v in (args.set or [])} or None
    try:
        result = train(
            argument_source(args.spec),
            task=args.task,
            steps=args.steps,
            batch=args.batch,
            lr=args.lr,
            out=args.out,
            resume=args.resume,
            eval_every=args.eval_every,
            seed=args.seed,
            save_every=args.save_every,
            until=args.until,
            weight_decay=args.weight_decay,
            eval_batch=args.eval_batch,
            size=args.size,
            noise=args.noise,
            overrides=overrides,
            device=args.device,
            progress=False if args.no_progress else None,
        )
    except SpecError as err:
        _report(err)
        return 1
    except FloatingPointError as err:
        _report(err)
        return 1
    except KeyboardInterrupt:
        return 130
    if os.environ.get("RANK", "0") == "0":
        print(_closing_line(args, result))
    return 0


def _closing_line(args: argparse.Namespace, result) -> str:
    """One line on stdout: the metric's change, the steps and where the checkpoint went."""
    name = result.metric
    final = result.final
    if final is None:
        what = "no evaluation"
    elif result.baseline is not None:
        what = (
            f"{name} {result.baseline:.2f} dB (noisy input) -> {final:.2f} dB "
            f"({final - result.baseline:+.2f} dB)"
        )
    else:
        what = f"{name} {final:.4g}"
    saved = f", checkpoint {result.checkpoint}" if result.checkpoint else ""
    return f"{args.spec}: {args.task}, step {result.step}: {what}{saved}"


def build_parser() -> argparse.ArgumentParser:
    """A stand-alone parser (``python -m blockspec.training.cli``)."""
    about = "Train a spec on synthetic data (denoise, segment or classify)."
    p = argparse.ArgumentParser("blockspec train", description=about, epilog=EPILOG)
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    add_arguments(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv` and `run`."""
    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
