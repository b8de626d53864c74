"""Chapter 5's common mistakes (the training loop), as edits of the reference ``train``."""

from __future__ import annotations

from . import Catalogue, mistake

VISIBLE = {"test_train_visible", "test_optimizers_visible"}
HIDDEN = {"test_train_hidden", "test_train_bars_hidden", "test_train_optimizers_hidden"}
EVERY_CELL = VISIBLE | HIDDEN
HISTORIES_WITH_A_SCHEDULER = VISIBLE | {"test_train_hidden", "test_train_optimizers_hidden"}
WITHOUT_A_SCHEDULER = {"test_train_visible", "test_train_hidden"}

HINT_ZERO_GRAD_PER_EPOCH = (
    "Your history is what a loop produces that calls optimizer.zero_grad() once per epoch instead of once "
    "per batch: gradients accumulate across backward() calls (as in PyTorch), so every step uses the sum of "
    "all the batches' gradients so far. Call optimizer.zero_grad() at the start of every batch, before "
    "loss.backward()."
)
HINT_ZERO_GRAD_NEVER = (
    "Your history is what a loop produces that never calls optimizer.zero_grad(): gradients accumulate "
    "across backward() calls (as in PyTorch), so each step uses the sum of every gradient so far. Call "
    "optimizer.zero_grad() at the start of every batch, before loss.backward()."
)
HINT_NO_GRADIENT_AT_STEP = (
    "Your model never changed: the steps saw no gradients. Calling optimizer.zero_grad() between "
    "loss.backward() and optimizer.step() (or stepping before backward()) throws the gradients away "
    "(zero_grad sets them to None, and optimizers skip parameters whose grad is None). The order per batch "
    "is zero_grad(), forward, loss, loss.backward(), optimizer.step()."
)
HINT_SCHEDULER_PER_BATCH = (
    "Your history is what a loop produces that calls scheduler.step() after every batch: the schedule then "
    "counts optimizer steps, not epochs, and decays len(loader) times too fast. Call scheduler.step() once "
    "per epoch, after the epoch's last optimizer.step()."
)
HINT_SCHEDULER_FIRST = (
    "Your loop calls scheduler.step() at the start of each epoch, before the epoch's optimizer steps: the "
    "first epoch already trains with the second epoch's learning rate (the base class warns about this). "
    "Call scheduler.step() at the end of the epoch, after its optimizer steps."
)
HINT_SCHEDULER_NEVER = (
    "The learning rate never changed: your loop does not call scheduler.step(). Call it once per epoch, "
    "after the epoch's optimizer steps (when a scheduler is given)."
)
HINT_LR_AFTER_SCHEDULER = (
    "The losses are right, but the learning rates are shifted by one epoch: you read "
    "optimizer.param_groups[0]['lr'] after scheduler.step(), which already holds the next epoch's rate. "
    "Record the rate the epoch trained with: read it at the start of the epoch."
)
HINT_LAST_BATCH_LOSS = (
    "Your history holds the loss of each epoch's last batch. Record the mean of the epoch's batch losses "
    "(the sum of float(loss.data) over the batches divided by the number of batches)."
)
HINT_SUM_OF_LOSSES = (
    "Your history holds the sum of each epoch's batch losses. Record their mean: divide by the number of "
    "batches."
)
HINT_SCHEDULER_NONE = (
    "Your train raised an AttributeError: scheduler may be None (no schedule). Call scheduler.step() only "
    "if scheduler is not None."
)

# Lines of the reference train's solution (each occurs once in the cell).
ZERO = "            optimizer.zero_grad()\n"
BACKWARD = "            loss.backward()\n"
STEP = "            optimizer.step()\n"
EPOCH_START = "        total, batches = 0.0, 0\n"
READ_LR = '        lr = optimizer.param_groups[0]["lr"]\n'
SCHEDULE = "        if scheduler is not None:\n            scheduler.step()\n"
SCHEDULE_PER_BATCH = "            if scheduler is not None:\n                scheduler.step()\n"
MEAN = 'history["loss"].append(total / batches)'
RECORD_LR = '        history["lr"].append(lr)\n'


def train_mistake(name: str, what: str, *replacements: tuple[str, str], loses, hint: str, demo: bool = False):
    return mistake(name, what, "train", *replacements, loses=loses, hint=hint, demo=demo)


CATALOGUE = Catalogue("ch5_training_loop", "training_loop.ipynb", (
    train_mistake("zero_grad_per_epoch", "calls optimizer.zero_grad() once per epoch, at its start",
                  (ZERO, ""), (EPOCH_START, EPOCH_START + "        optimizer.zero_grad()\n"),
                  loses=EVERY_CELL, hint=HINT_ZERO_GRAD_PER_EPOCH, demo=True),
    train_mistake("zero_grad_per_epoch_at_end", "calls optimizer.zero_grad() once per epoch, at its end",
                  (ZERO, ""), (SCHEDULE, "        optimizer.zero_grad()\n" + SCHEDULE),
                  loses=EVERY_CELL, hint=HINT_ZERO_GRAD_PER_EPOCH),
    train_mistake("zero_grad_never", "never calls optimizer.zero_grad()",
                  (ZERO, ""),
                  loses=EVERY_CELL, hint=HINT_ZERO_GRAD_NEVER),
    train_mistake("zero_grad_before_step", "calls optimizer.zero_grad() between backward() and step()",
                  (ZERO, ""), (BACKWARD, BACKWARD + ZERO),
                  loses=EVERY_CELL, hint=HINT_NO_GRADIENT_AT_STEP),
    train_mistake("step_before_backward", "calls optimizer.step() before loss.backward()",
                  (STEP, ""), (BACKWARD, STEP + BACKWARD),
                  loses=EVERY_CELL, hint=HINT_NO_GRADIENT_AT_STEP),
    train_mistake("scheduler_per_batch", "calls scheduler.step() after every batch",
                  (SCHEDULE, ""), (STEP, STEP + SCHEDULE_PER_BATCH),
                  loses=EVERY_CELL, hint=HINT_SCHEDULER_PER_BATCH, demo=True),
    train_mistake("scheduler_per_batch_lr_after", "calls scheduler.step() after every batch and reads the rate at the epoch's end",
                  (SCHEDULE, ""), (STEP, STEP + SCHEDULE_PER_BATCH), (READ_LR, ""), (RECORD_LR, READ_LR + RECORD_LR),
                  loses=EVERY_CELL, hint=HINT_SCHEDULER_PER_BATCH),
    train_mistake("scheduler_first", "calls scheduler.step() at the start of each epoch, then reads the rate",
                  (SCHEDULE, ""), (READ_LR, SCHEDULE + READ_LR),
                  loses=HISTORIES_WITH_A_SCHEDULER, hint=HINT_SCHEDULER_FIRST),
    train_mistake("scheduler_first_lr_before", "reads the rate, then calls scheduler.step() at the start of each epoch",
                  (SCHEDULE, ""), (READ_LR, READ_LR + SCHEDULE),
                  loses=HISTORIES_WITH_A_SCHEDULER, hint=HINT_SCHEDULER_FIRST),
    train_mistake("scheduler_never", "never calls scheduler.step()",
                  (SCHEDULE, ""),
                  loses=HISTORIES_WITH_A_SCHEDULER, hint=HINT_SCHEDULER_NEVER),
    train_mistake("lr_after_scheduler", "reads the learning rate after scheduler.step()",
                  (READ_LR, ""), (SCHEDULE, SCHEDULE + READ_LR),
                  loses=HISTORIES_WITH_A_SCHEDULER, hint=HINT_LR_AFTER_SCHEDULER),
    train_mistake("last_batch_loss", "records the loss of the epoch's last batch",
                  (MEAN, 'history["loss"].append(float(loss.data))'),
                  loses=HISTORIES_WITH_A_SCHEDULER, hint=HINT_LAST_BATCH_LOSS),
    train_mistake("sum_of_losses", "records the sum of the epoch's batch losses, not their mean",
                  (MEAN, 'history["loss"].append(total)'),
                  loses=EVERY_CELL, hint=HINT_SUM_OF_LOSSES, demo=True),
    train_mistake("scheduler_none_not_handled", "calls scheduler.step() when scheduler is None",
                  (SCHEDULE, "        scheduler.step()\n"),
                  loses=WITHOUT_A_SCHEDULER, hint=HINT_SCHEDULER_NONE),
))
