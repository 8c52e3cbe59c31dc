"""The training loop: mixed precision, accumulation, clipping, warmup + cosine LR, NaN guard,
progress bar, TensorBoard, validation figures, checkpoints and exact resume, DDP."""

from __future__ import annotations

import math
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel

from hepvae.device import DTYPES, choose_precision, resolve_device
from hepvae.errors import HepvaeError
from hepvae.model import HyperVAE, Normalization, prior
from hepvae.model.losses import kl_weight
from hepvae.model.prior import PRIOR_BUFFERS
from hepvae.train import distributed as D
from hepvae.train.checkpoint import Checkpoint, rng_state, set_rng_state
from hepvae.train.config import Config
from hepvae.train.data import JetTensors, batches_per_epoch, epoch_indices, iterate_batches

#: seed offset of the fixed random stream used for validation
VALIDATION_SEED = 987654321
#: the prior fitted after each epoch (the final fit is ``train.prior_jets`` and
#: ``model.prior_components``): training jets per class, Gaussians at most
QUICK_PRIOR_JETS = 2500
QUICK_PRIOR_COMPONENTS = 8


@dataclass
class TrainResult:
    steps: int
    epochs: int
    seconds: float
    jets_per_second: float
    best_val: float | None
    last: Path
    best: Path | None
    bad_steps: int
    #: the numerical precision the networks trained in (``train.precision`` resolved)
    precision: str


def lr_factor(step: int, warmup: int, total: int, floor: float) -> float:
    """Linear warmup over ``warmup`` steps, then cosine from 1 down to ``floor`` at ``total``."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


class Trainer:
    """Trains a :class:`HyperVAE` on in-memory jets; see :meth:`fit`."""

    def __init__(
        self,
        config: Config,
        train: JetTensors,
        val: JetTensors | None,
        normalization: Normalization,
        save_dir: str | Path,
        log_dir: str | Path | None = None,
        resume: Checkpoint | None = None,
        info: D.DistInfo | None = None,
        started: float | None = None,
    ) -> None:
        """``resume``: a loaded checkpoint to continue from (its normalization must be
        ``normalization``). ``started``: ``time.perf_counter()`` at the start of the run, from
        which ``train.time_limit_minutes`` counts (default: now)."""
        self.config = config
        opt = config.train
        self.info = info or D.DistInfo()
        self.device = resolve_device(opt.device)
        self.precision = choose_precision(opt.precision, self.device)
        self.dtype = DTYPES[self.precision]
        if opt.threads > 0 and self.device.type == "cpu":
            torch.set_num_threads(opt.threads)
        self.train_data, self.val_data = train, val
        self.trained_labels = sorted({int(k) for k in train.label.unique().tolist()})
        self.save_dir = Path(save_dir)
        self.log_dir = Path(log_dir) if log_dir else self.save_dir / "logs"
        self.normalization = normalization

        torch.manual_seed(opt.seed)
        self.model = HyperVAE(config.model, normalization, config.loss).to(self.device)
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=opt.lr, weight_decay=opt.weight_decay
        )
        n_batches = batches_per_epoch(len(train), config.data.batch_size, self.info.world)
        self.batches_per_epoch = n_batches
        self.steps_per_epoch = math.ceil(n_batches / opt.grad_accumulation)
        self.planned_epochs = opt.epochs
        self.total_steps = opt.epochs * self.steps_per_epoch
        self.started = time.perf_counter() if started is None else started
        self.bar = None
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer,
            lambda s: lr_factor(s, opt.warmup_steps, self.total_steps, opt.min_lr_ratio),
        )
        fp16 = self.dtype == torch.float16
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=fp16)
        self.epoch = self.batch_in_epoch = self.step = self.bad_steps = 0
        self.best_val: float | None = None
        self.best_step: int | None = None  # the step of the best.pt this process wrote
        self.history: list[dict] = []
        if resume is not None:
            self._restore(resume)
        self.net = self.model
        if self.info.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = DistributedDataParallel(self.model, device_ids=ids)
        self.writer = None
        self._quick_fit: prior.PriorFit | None = None  # the last epoch's quick prior fit
        self._final_plan: tuple[int, float] | None = None  # final fit: jets, EM seconds

    # --- state --------------------------------------------------------------------------
    def checkpoint(self) -> Checkpoint:
        """The run's current state, as written to ``last.pt``."""
        return Checkpoint(
            config=self.config.to_dict(),
            config_digest=self.config.digest(),
            normalization=self.normalization.to_dict(),
            model=self.model.state_dict(),
            optimizer=self.optimizer.state_dict(),
            scheduler=self.scheduler.state_dict(),
            scaler=self.scaler.state_dict(),
            rng=rng_state(),
            epoch=self.epoch,
            batch_in_epoch=self.batch_in_epoch,
            step=self.step,
            bad_steps=self.bad_steps,
            best_val=self.best_val,
            history=self.history,
            planned_epochs=self.planned_epochs,
            trained_labels=self.trained_labels,
            planned_steps=self.total_steps,
        )

    def _restore(self, ckpt: Checkpoint) -> None:
        if ckpt.config["model"] != self.config.to_dict()["model"]:
            raise HepvaeError(f"{ckpt.where}: the model config differs from the checkpoint's")
        self.model.load_state_dict(ckpt.model)
        self.optimizer.load_state_dict(ckpt.optimizer)
        self.scheduler.load_state_dict(ckpt.scheduler)
        self.scaler.load_state_dict(ckpt.scaler)
        set_rng_state(ckpt.rng)
        self.epoch, self.batch_in_epoch = ckpt.epoch, ckpt.batch_in_epoch
        self.step, self.bad_steps = ckpt.step, ckpt.bad_steps
        self.best_val, self.history = ckpt.best_val, list(ckpt.history)
        if ckpt.config["train"].get("select_by", "loss") != self.config.train.select_by:
            self.best_val = None  # another criterion: the next validated epoch starts afresh
        planned = ckpt.planned_steps
        if planned is None:  # files from before step plans
            planned = ckpt.planned_epochs * self.steps_per_epoch
        if planned < ckpt.config["train"]["epochs"] * self.steps_per_epoch:  # shortened in time
            self.set_planned_steps(min(planned, self.config.train.epochs * self.steps_per_epoch))

    def save(self, name: str) -> Path:
        return self.checkpoint().save(self.save_dir / f"{name}.pt")

    # --- steps --------------------------------------------------------------------------
    def _autocast(self):
        if self.dtype == torch.float32:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def _to_device(self, batch: JetTensors) -> JetTensors:
        fields = (batch.p4, batch.mask, batch.label, batch.jet, batch.nparticles)
        moved = (None if t is None else t.to(self.device, non_blocking=True) for t in fields)
        return JetTensors(*moved)

    def forward_batch(self, batch: JetTensors, beta: float):
        batch = self._to_device(batch)
        with self._autocast():
            return self.net(batch.p4, batch.mask, batch.label, beta, batch.jet, batch.nparticles)

    def _bad(self, what: str) -> None:
        self.bad_steps += 1
        limit = self.config.train.max_bad_steps
        if self.bad_steps > limit:
            last = self.save_dir / "last.pt"
            where = f"; the last good checkpoint is {last}" if last.is_file() else ""
            raise HepvaeError(
                f"training stopped: {self.bad_steps} batches with a non-finite {what} "
                f"(train.max_bad_steps = {limit}) at step {self.step}{where}"
            )

    def optimizer_step(self) -> float | None:
        opt = self.config.train
        self.scaler.unscale_(self.optimizer)
        clip = opt.grad_clip if opt.grad_clip > 0 else float("inf")
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
        finite = D.all_true(bool(torch.isfinite(norm)), self.info, self.device)
        if not finite and not self.scaler.is_enabled():
            self.optimizer.zero_grad(set_to_none=True)
            self._bad("gradient")
            return None
        scale = self.scaler.get_scale() if self.scaler.is_enabled() else 1.0
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler.is_enabled() and self.scaler.get_scale() < scale:
            return None  # fp16 overflow: the scaler skipped this step and lowered its scale
        self.scheduler.step()
        self.step += 1
        return float(norm)

    # --- validation ---------------------------------------------------------------------
    @torch.no_grad()
    def validate(self) -> dict[str, float] | None:
        if self.val_data is None or len(self.val_data) == 0:
            return None
        cfg = self.config
        self.model.eval()
        sums: dict[str, torch.Tensor] = {}
        count = torch.zeros((), device=self.device)
        index = epoch_indices(len(self.val_data), 0, 0, self.info.rank, self.info.world)
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            torch.manual_seed(cfg.train.seed + VALIDATION_SEED)
            for batch in iterate_batches(self.val_data, index, cfg.data.batch_size):
                out = self.forward_batch(batch, cfg.loss.kl)
                n = len(batch)
                for key, value in {"total": out.total.detach(), **out.parts}.items():
                    sums[key] = sums.get(key, 0.0) + value.float() * n
                count += n
        self.model.train()
        return {k: float(D.all_reduce_mean(v, self.info) / D.all_reduce_mean(count, self.info))
                for k, v in sums.items()}  # fmt: skip

    @torch.no_grad()
    def figure(self, n: int = 2000):
        """Validation figure (real, reconstructed and generated jets), or None."""
        from hepvae.train.figures import validation_figure

        data = self.val_data if self.val_data is not None and len(self.val_data) else None
        data = data or self.train_data
        sub = self._to_device(data.subset(torch.arange(min(n, len(data)))))
        self.model.eval()
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            torch.manual_seed(self.config.train.seed + VALIDATION_SEED)
            parts = [
                self.model.reconstruct(sub.p4[i], sub.mask[i], sub.label[i])
                for i in torch.arange(len(sub)).split(512)
            ]
            rec = (torch.cat([p for p, _ in parts]), torch.cat([m for _, m in parts]))
            generated = self._generate(sub.label)
        self.model.train()
        samples = {
            "real": (sub.p4, sub.mask),
            "reconstructed": rec,
            "generated": generated[:2],
        }
        return validation_figure(samples, f"epoch {self.epoch}")

    @torch.no_grad()
    def _generate(self, labels: torch.Tensor, chunk: int = 512) -> tuple[torch.Tensor, ...]:
        """Jets of ``labels`` from the prior, reproducibly (noise from ``train.seed``):
        (p4, mask, jet, nparticles) as :meth:`HyperVAE.sample` returns them."""
        self.model.eval()
        gen = torch.Generator().manual_seed(self.config.train.seed)
        outs = [self.model.sample(len(part), part, 1.0, gen) for part in labels.split(chunk)]
        return tuple(torch.cat(column) for column in zip(*outs))

    def substructure(self) -> tuple[float, dict[str, float]] | None:
        """The selection score of :mod:`hepvae.train.selection` on up to
        ``train.select_jets`` validation jets per class (None without validation jets)."""
        from hepvae.train.selection import class_balanced, substructure_score, tensors_to_jets

        if self.val_data is None or len(self.val_data) == 0:
            return None
        val = self.val_data.subset(
            class_balanced(self.val_data.label, self.config.train.select_jets)
        )
        real = tensors_to_jets(val.p4, val.mask, val.label, val.jet, val.nparticles)
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            torch.manual_seed(self.config.train.seed + VALIDATION_SEED)
            p4, mask, jet, nparticles = self._generate(val.label.to(self.device))
        generated = tensors_to_jets(p4, mask, val.label, jet, nparticles)
        self.model.train()
        return substructure_score(real, generated, self.config.model.n_particles)

    # --- logging ------------------------------------------------------------------------
    def _log(self, scalars: dict[str, float], prefix: str) -> None:
        if self.writer is None:
            return
        for key, value in scalars.items():
            self.writer.add_scalar(f"{prefix}/{key}", value, self.step)

    def _open_writer(self) -> None:
        if self.info.main and self.writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.log_dir))
            self.writer.add_text("run/precision", f"{self.precision} on {self.device}")

    # --- the loop -----------------------------------------------------------------------
    def fit(self) -> TrainResult:
        """Train until all epochs are done (or ``max_steps`` / the time limit is reached)."""
        self._open_writer()
        self.bar = self._progress_bar()
        start = time.perf_counter()
        self.train_seconds, self.jets_seen = 0.0, 0
        self.model.train()
        try:
            first_step = self.step
            while self.epoch < self.planned_epochs:
                tick, trained, stepped = time.perf_counter(), self.train_seconds, self.step
                if self._train_epoch():
                    break  # max_steps or the planned steps reached inside the epoch
                self.batch_in_epoch = 0
                self.epoch += 1
                self._end_of_epoch()
                stepping = self.train_seconds - trained
                step_seconds = stepping / max(self.step - stepped, 1)
                other_seconds = time.perf_counter() - tick - stepping
                if self._out_of_time(step_seconds, other_seconds):
                    break
            if self.batch_in_epoch > 0 and self.step > first_step:  # stopped inside an epoch
                if self.step >= self.total_steps:  # the time plan's last, partial epoch
                    self._end_of_epoch(partial=True)
                else:
                    self.fit_prior()
            if self.info.main:
                self.save("last")  # on disk before the final fit, whatever happens to it
                self.final_prior()
        finally:
            if self.bar is not None:
                self.bar.stop()
            if self.writer is not None:
                self.writer.flush()
        best = self.save_dir / "best.pt"
        return TrainResult(
            steps=self.step,
            epochs=self.epoch,
            seconds=time.perf_counter() - start,
            jets_per_second=self.jets_seen / max(self.train_seconds, 1e-9),
            best_val=self.best_val,
            last=self.save_dir / "last.pt",
            best=best if best.is_file() else None,
            bad_steps=self.bad_steps,
            precision=self.precision,
        )

    def _train_epoch(self) -> bool:
        """The rest of the current epoch; True when ``max_steps`` or the planned steps
        stopped it."""
        cfg, opt = self.config, self.config.train
        index = epoch_indices(
            len(self.train_data), self.epoch, opt.seed, self.info.rank, self.info.world
        )
        micro = good = 0
        tick = time.perf_counter()
        try:
            for batch in iterate_batches(
                self.train_data, index, cfg.data.batch_size, self.batch_in_epoch
            ):
                if micro == 0 and self.step >= self.total_steps:
                    return True  # the time plan ends inside this epoch
                beta = kl_weight(self.step, cfg.loss.kl, cfg.loss.kl_warmup_steps)
                last_micro = micro + 1 == opt.grad_accumulation or (
                    self.batch_in_epoch + 1 == self.batches_per_epoch
                )
                sync = nullcontext()
                if self.info.enabled and not last_micro:
                    sync = self.net.no_sync()
                with sync:
                    out = self.forward_batch(batch, beta)
                    finite = bool(torch.isfinite(out.total.detach()))
                    if D.all_true(finite, self.info, self.device):
                        self.scaler.scale(out.total / opt.grad_accumulation).backward()
                        good += 1
                    else:
                        self._bad("loss")
                micro += 1
                self.batch_in_epoch += 1
                self.jets_seen += len(batch) * self.info.world
                if not last_micro:
                    continue
                micro, any_good, good = 0, good > 0, 0
                if not any_good:
                    self.optimizer.zero_grad(set_to_none=True)
                    continue
                grad_norm = self.optimizer_step()
                if grad_norm is not None and self.step % 10 == 0:
                    parts = {k: float(v) for k, v in out.parts.items()}
                    self._log({**parts, "total": float(out.total.detach()), "kl_weight": beta,
                               "lr": self.scheduler.get_last_lr()[0],
                               "grad_norm": grad_norm}, "train")  # fmt: skip
                if self.bar is not None:
                    self.bar.advance(1)
                    if finite:
                        self.bar.update(**self._postfix(out))
                if opt.max_steps is not None and self.step >= opt.max_steps:
                    return True
            return False
        finally:
            self.train_seconds += time.perf_counter() - tick

    def _out_of_time(self, step_seconds: float, other_seconds: float) -> bool:
        """With a time limit: re-plan the run's optimizer steps (and its cosine schedule) to
        those of the configured epochs or, if fewer, those that still fit at the pace of the last
        epoch (``step_seconds`` per step; its ``other_seconds`` of validation and checkpoints,
        and the final prior fit, are kept for the end). The last epoch may be partial. True when
        not one more step fits."""
        remaining = self._seconds_left()
        if remaining is None:
            return False
        remaining -= max(other_seconds, 0.0) + self.final_prior_seconds()
        fit = int(remaining // max(step_seconds, 1e-9))
        # every process follows the slowest one's plan
        fit = int(D.all_reduce_min(torch.tensor(float(fit), device=self.device), self.info))
        if fit < 1:
            return True
        plan = min(self.step + fit, self.config.train.epochs * self.steps_per_epoch)
        if plan != self.total_steps:
            self.set_planned_steps(plan)
        return False

    def _seconds_left(self) -> float | None:
        """Seconds left of ``train.time_limit_minutes`` (None without a limit)."""
        limit = self.config.train.time_limit_minutes
        if limit is None:
            return None
        return 60 * limit - (time.perf_counter() - self.started)

    def final_prior_seconds(self) -> float:
        """The final prior fit's expected seconds: encoding at the pace of the last quick fit,
        and ``prior.EM_ITERATIONS`` EM iterations per class at this machine's measured pace."""
        if self._quick_fit is None:
            return 0.0
        if self._final_plan is None:  # measured once
            dim, limit = self.config.model.latent_dim, self.config.model.prior_components
            labels = self.train_data.label
            jets = [min(int((labels == k).sum()), self.config.train.prior_jets)
                    for k in self.trained_labels]  # fmt: skip
            em = sum(prior.em_seconds(n, dim, prior.mixture_components(n, limit)) for n in jets)
            self._final_plan = (sum(jets), em)
        jets, em = self._final_plan
        encode = self._quick_fit.encode_seconds / max(self._quick_fit.jets, 1)
        return encode * jets + em

    def set_planned_steps(self, steps: int) -> None:
        """Plan ``steps`` optimizer steps in all (the last epoch may be partial); the
        learning-rate schedule follows."""
        self.total_steps = steps
        self.planned_epochs = math.ceil(steps / self.steps_per_epoch)
        if self.bar is not None:
            self.bar.update(total=self._bar_total())

    def fit_prior(self) -> None:
        """The quick fit of every epoch: the generation prior on QUICK_PRIOR_JETS training jets
        per class, with at most QUICK_PRIOR_COMPONENTS Gaussians."""
        data = self.train_data
        self._quick_fit = self.model.fit_prior(
            data.p4, data.mask, data.label, QUICK_PRIOR_JETS, QUICK_PRIOR_COMPONENTS
        )

    def final_prior(self) -> None:
        """Refit the generation prior of the selected checkpoint (best.pt, or last.pt without
        one) on ``train.prior_jets`` training jets per class with ``model.prior_components``
        Gaussians, rewriting the file. last.pt gets the same fit when it holds the same step;
        otherwise it keeps its epoch's quick fit. With a time limit the fit keeps to the time
        left (see :meth:`HyperVAE.fit_prior`)."""
        data, jets = self.train_data, self.config.train.prior_jets
        seconds = self._seconds_left()
        best = self.save_dir / "best.pt"
        if self.best_step == self.step or not best.is_file():
            fit = self.model.fit_prior(data.p4, data.mask, data.label, jets, seconds=seconds)
            self.save("last")
            if best.is_file():
                self.save("best")
            written = "last.pt and best.pt" if best.is_file() else "last.pt"
        else:
            ckpt = Checkpoint.load(best)
            model, _ = ckpt.build_model(self.device)
            fit = model.fit_prior(data.p4, data.mask, data.label, jets, seconds=seconds)
            ckpt.model.update({k: getattr(model, k).cpu() for k in PRIOR_BUFFERS})
            ckpt.save(best)
            written = "best.pt (last.pt, a later step, keeps its epoch's quick fit)"
        if self.config.train.progress:
            print(
                f"generation prior fitted on {fit.jets} jets in "
                f"{fit.encode_seconds + fit.mixture_seconds:.0f} s "
                f"({fit.encode_seconds:.0f} s encoding) into {written}",
                flush=True,
            )

    def _end_of_epoch(self, partial: bool = False) -> None:
        """Fit the prior, validate, log and checkpoint; ``partial``: after the time plan's last,
        partial epoch (always validated, no numbered checkpoint)."""
        opt = self.config.train
        self.fit_prior()
        metrics = None
        last = partial or self.epoch == self.planned_epochs
        if self.epoch % opt.validate_every == 0 or last:
            metrics = self.validate()
        key = "total"
        if metrics is not None and opt.select_by == "substructure" and self.info.main:
            scored = self.substructure()
            if scored is not None:
                key = "substructure"
                metrics["substructure"] = scored[0]
                metrics.update({f"substructure_{k}": v for k, v in scored[1].items()})
        record = {"epoch": self.epoch, "step": self.step}
        if partial:
            record["batches_in_epoch"] = self.batch_in_epoch
        if metrics is not None:
            record.update({f"val_{k}": v for k, v in metrics.items()})
            self._log(metrics, "val")
        self.history.append(record)
        if not self.info.main:
            return
        if metrics is not None and (self.best_val is None or metrics[key] < self.best_val):
            self.best_val, self.best_step = metrics[key], self.step
            self.save("best")
        self.save("last")
        if opt.checkpoint_every and self.epoch % opt.checkpoint_every == 0 and not partial:
            self.save(f"epoch{self.epoch:04d}")
        if opt.figure_every and (self.epoch % opt.figure_every == 0 or last):
            fig = self.figure()
            self.log_dir.mkdir(parents=True, exist_ok=True)
            fig.savefig(self.log_dir / f"validation_epoch{self.epoch:04d}.png", dpi=90)
            if self.writer is not None:
                self.writer.add_figure("validation", fig, self.step)
            import matplotlib.pyplot as plt

            plt.close(fig)

    def _progress_bar(self):
        if not (self.info.main and self.config.train.progress):
            return None
        from hepvae.progress import ProgressBar

        return ProgressBar(self._bar_total(), "train", unit="steps", completed=self.step).start()

    def _bar_total(self) -> int:
        total = self.total_steps
        if self.config.train.max_steps is not None:
            total = min(total, self.config.train.max_steps)
        return total

    @staticmethod
    def _postfix(out) -> dict[str, str]:
        shown = {"loss": out.total.detach()}
        shown.update({k: v for k, v in out.parts.items() if k != "kl"})
        return {k: f"{float(v):.3g}" for k, v in shown.items()}
