"""FSDP against DDP on the visible GPUs: peak memory and step time for a small BERT.

    python benchmarks/fsdp_vs_ddp.py --out results.json
    python benchmarks/fsdp_vs_ddp.py --layers 12 --hidden 1024 --steps 40 --precision bf16-mixed
    CUDA_VISIBLE_DEVICES=0,1 python benchmarks/fsdp_vs_ddp.py --variants ddp,fsdp

Trains BertForMaskedLM built from a BertConfig (random weights, no download) on synthetic
token ids, with plain Lightning and transformers (no fabricx), once per variant:
  ddp      DDPStrategy
  fsdp     FSDPStrategy, each BertLayer its own FSDP unit (FULL_SHARD by default)
  fsdp_ac  the same plus activation checkpointing of every BertLayer
Each variant runs in its own process (Lightning then starts one per GPU), so one variant's
memory never counts against the next. Reported per variant: peak torch.cuda memory
(max_memory_allocated, the largest over the ranks and each rank's), mean and median step
time over the timed steps (warm-up excluded; a step is forward, backward and optimizer step,
timed between CUDA synchronizations) and tokens per second over all ranks.

On one GPU FSDP cannot shard (torch falls back to NO_SHARD), so the memory it saves shows with
two or more GPUs; activation checkpointing saves memory on one GPU too. Prints a markdown
table and writes JSON to --out. A harness, not a test: nothing is asserted. Without CUDA it
stops with a message: FSDP runs on CUDA GPUs only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

try:
    import lightning.pytorch as pl
    import torch
    import transformers
except ImportError as err:
    raise SystemExit(f"fsdp_vs_ddp: needs torch, lightning and transformers ({err}).") from None

VARIANTS = ("ddp", "fsdp", "fsdp_ac")
GIB = 1024**3


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("fsdp_vs_ddp.json"), help="JSON results")
    p.add_argument("--variants", default=",".join(VARIANTS), help=f"comma list of {VARIANTS}")
    p.add_argument("--layers", type=int, default=8, help="BertLayers")
    p.add_argument("--hidden", type=int, default=1024, help="hidden size (heads = hidden/64)")
    p.add_argument("--seq-len", type=int, default=512, help="tokens per sequence")
    p.add_argument("--batch-size", type=int, default=16, help="sequences per GPU per step")
    p.add_argument("--vocab", type=int, default=30522, help="vocabulary size")
    p.add_argument("--steps", type=int, default=30, help="timed steps")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    p.add_argument("--precision", default="bf16-mixed", help="Lightning precision")
    p.add_argument("--sharding", default="FULL_SHARD", help="FSDP sharding strategy")
    p.add_argument("--devices", default="-1", help="GPUs per variant (-1: all visible)")
    p.add_argument("--worker", choices=VARIANTS, help=argparse.SUPPRESS)  # internal
    p.add_argument("--result", type=Path, help=argparse.SUPPRESS)  # internal
    return p.parse_args(argv)


# --- one variant, in its own process group (Lightning re-runs this file for each rank) -----


def run_variant(args: argparse.Namespace, variant: str, accelerator: str = "gpu") -> dict | None:
    """Train `variant` for warmup + steps; on global rank 0, return its measurements."""
    from lightning.pytorch.strategies import DDPStrategy, FSDPStrategy
    from torch.utils.data import DataLoader, TensorDataset
    from transformers import BertConfig, BertForMaskedLM
    from transformers.models.bert.modeling_bert import BertLayer

    config = BertConfig(
        vocab_size=args.vocab,
        hidden_size=args.hidden,
        num_hidden_layers=args.layers,
        num_attention_heads=max(1, args.hidden // 64),
        intermediate_size=4 * args.hidden,
        max_position_embeddings=args.seq_len,
    )

    class MaskedLM(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.bert = BertForMaskedLM(config)

        def training_step(self, batch: list[torch.Tensor], _: int) -> torch.Tensor:
            (ids,) = batch  # (batch, seq_len) token ids; the labels are the inputs
            return self.bert(input_ids=ids, labels=ids).loss

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.AdamW(self.parameters(), lr=1e-4)

    steps = args.warmup + args.steps
    timer = StepTimer(args.warmup)
    if variant == "ddp":
        strategy: Any = DDPStrategy(gradient_as_bucket_view=True)
    else:
        strategy = FSDPStrategy(
            sharding_strategy=args.sharding,
            auto_wrap_policy={BertLayer},
            activation_checkpointing_policy={BertLayer} if variant == "fsdp_ac" else None,
        )
    trainer = pl.Trainer(
        accelerator=accelerator,
        devices=int(args.devices) if args.devices.lstrip("-").isdigit() else args.devices,
        strategy=strategy,
        precision=args.precision,
        max_steps=steps,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[timer],
    )
    torch.manual_seed(0)
    world = trainer.world_size
    # Enough sequences for every step on every rank: (steps * batch * world, seq_len).
    ids = torch.randint(0, args.vocab, (steps * args.batch_size * world, args.seq_len))
    loader = DataLoader(TensorDataset(ids), batch_size=args.batch_size, shuffle=False)
    model = MaskedLM()
    params = sum(p.numel() for p in model.parameters())
    trainer.fit(model, loader)
    if not trainer.is_global_zero:
        return None
    per_rank = timer.gathered  # (world, 2): peak bytes, mean step seconds
    step_times = timer.step_times
    tokens_per_step = args.batch_size * args.seq_len * world
    mean_step = max(float(v) for v in per_rank[:, 1])  # the slowest rank sets the pace
    return {
        "variant": variant,
        "devices": world,
        "parameters": params,
        "peak_memory_gib": round(max(float(v) for v in per_rank[:, 0]) / GIB, 3),
        "peak_memory_gib_per_rank": [round(float(v) / GIB, 3) for v in per_rank[:, 0]],
        "mean_step_s": round(mean_step, 4),
        "median_step_s_rank0": round(statistics.median(step_times), 4),
        "tokens_per_s": round(tokens_per_step / mean_step, 1),
        "timed_steps": len(step_times),
    }


class StepTimer(pl.Callback):
    """Times each training step after `warmup` and reads the peak CUDA memory at the end."""

    def __init__(self, warmup: int) -> None:
        self.warmup = warmup
        self.step_times: list[float] = []
        self.gathered: Any = None
        self._start = 0.0

    def _sync(self) -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()  # CUDA runs asynchronously: wait before reading the clock

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, idx: int) -> None:
        self._sync()
        self._start = time.perf_counter()

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, idx: int
    ) -> None:
        self._sync()
        if trainer.global_step > self.warmup:  # global_step counts optimizer steps done
            self.step_times.append(time.perf_counter() - self._start)

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        peak = torch.cuda.max_memory_allocated() if torch.cuda.is_available() else 0
        mean = statistics.fmean(self.step_times) if self.step_times else float("nan")
        local = torch.tensor([float(peak), mean], device=pl_module.device, dtype=torch.float64)
        gathered = pl_module.all_gather(local)  # (world, 2); (2,) with one process
        self.gathered = gathered.reshape(-1, 2).cpu()


# --- the driver: one subprocess per variant ---------------------------------------------------


def environment() -> dict[str, Any]:
    import lightning

    return {
        "gpus": torch.cuda.device_count(),
        "gpu": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "lightning": lightning.__version__,
        "transformers": transformers.__version__,
    }


def table(results: list[dict]) -> str:
    lines = [
        "| variant | GPUs | peak memory (GiB, max rank) | mean step (s) | tokens/s |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['variant']} | | failed: {r['error'][:60]} | | |")
            continue
        lines.append(
            f"| {r['variant']} | {r['devices']} | {r['peak_memory_gib']:.2f} |"
            f" {r['mean_step_s']:.4f} | {r['tokens_per_s']:.0f} |"
        )
    return "\n".join(lines)


def main() -> int:
    args = parse_args()
    if args.worker:  # inside a variant's process (and its ranks, which Lightning starts)
        result = run_variant(args, args.worker)
        if result is not None:  # global rank 0
            args.result.write_text(json.dumps(result))
        return 0

    if not torch.cuda.is_available():
        raise SystemExit(
            "fsdp_vs_ddp: no CUDA GPU is visible (torch.cuda.is_available() is False). FSDP runs"
            " on CUDA GPUs only; run this on a GPU machine (CUDA_VISIBLE_DEVICES picks GPUs)."
        )
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        raise SystemExit(f"fsdp_vs_ddp: unknown variants {unknown}; choose from {VARIANTS}.")

    results = []
    forwarded = list(sys.argv[1:])
    for variant in variants:
        with tempfile.TemporaryDirectory() as tmp:
            result_file = Path(tmp) / "result.json"
            cmd = [sys.executable, os.path.abspath(__file__), *forwarded]
            cmd += ["--worker", variant, "--result", str(result_file)]
            print(f"fsdp_vs_ddp: {variant} ...", flush=True)
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0 or not result_file.is_file():
                tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
                print(proc.stderr[-4000:], file=sys.stderr)
                results.append({"variant": variant, "error": tail[0]})
                continue
            results.append(json.loads(result_file.read_text()))
    config = {k: v for k, v in vars(args).items() if k not in ("out", "worker", "result")}
    record = {"environment": environment(), "config": config, "results": results}
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(table(results))
    print(f"fsdp_vs_ddp: wrote {args.out}")
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
