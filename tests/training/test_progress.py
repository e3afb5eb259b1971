"""The progress bar: quiet off a terminal, the fields it promises on one."""

from __future__ import annotations

import io

from blockspec.training.progress import Progress, format_duration


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_quiet_when_not_a_terminal() -> None:
    out = io.StringIO()
    bar = Progress(10, stream=out, use_tqdm=False)
    for i in range(1, 11):
        bar.update(i, loss="0.5")
    bar.close()
    assert out.getvalue() == ""
    bar.write("step 10  PSNR 30 dB")  # lines that stay are still written
    assert out.getvalue() == "step 10  PSNR 30 dB\n"


def test_draws_step_loss_metric_rate_and_eta_on_a_terminal() -> None:
    out = _Tty()
    bar = Progress(200, start=50, stream=out, use_tqdm=False)
    bar.update(100, loss="0.0123", PSNR="24.1 dB")
    text = bar.line()
    for part in ("100/200", "loss 0.0123", "PSNR 24.1 dB", "steps/s", "ETA "):
        assert part in text
    bar.write("step 100")
    bar.close()
    drawn = out.getvalue()
    assert "\r" in drawn and "step 100\n" in drawn and drawn.endswith("\n")


def test_format_duration() -> None:
    assert format_duration(75) == "1:15"
    assert format_duration(3700) == "1:01:40"
    assert format_duration(float("inf")) == "?"
