"""history.csv across a kill (common.training.fit / common.training.resume): the row of an epoch is on
disk no later than the resume state that records the epoch as done, so a resumed run logs each epoch
exactly once, in order."""
from __future__ import annotations

import json

from tests.test_resume import _epochs_logged, _run, fit_script


def _fit_script(workdir, epochs: int, kill_after_state_of_epoch: int | None = None) -> str:
    """`fit_script` that dies (os._exit, like SIGKILL) right after the resume state saying
    `kill_after_state_of_epoch` epochs are done is saved."""
    return fit_script(workdir, epochs, f"""
        kill_epoch = {kill_after_state_of_epoch!r}
        real_save_state = resume.save_state
        def save_state(model, workdir, epoch, config):
            path = real_save_state(model, workdir, epoch, config)
            if epoch == kill_epoch:
                os._exit(137)
            return path
        resume.save_state = save_state
    """)


def test_kill_right_after_the_resume_state_keeps_the_row_of_that_epoch(tmp_path):
    work = tmp_path / "work"
    killed = _run(_fit_script(work, epochs=4, kill_after_state_of_epoch=2))
    assert killed.returncode == 137, killed.stderr[-2000:]
    assert json.loads((work / "backup" / "training_metadata.json").read_text())["epoch"] == 2
    assert _epochs_logged(work) == [0, 1]  # both finished epochs, as the state says

    resumed = _run(_fit_script(work, epochs=4))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert _epochs_logged(work) == [0, 1, 2, 3]
    assert not (work / "backup").exists()


def test_a_resumed_run_drops_the_rows_it_trains_again_and_a_torn_line(tmp_path):
    from common.training.resume import append_history_row, keep_history_before

    path = tmp_path / "history.csv"
    for epoch in range(3):
        append_history_row(path, epoch, {"loss": 1.0 - epoch / 10, "val_loss": 2.0})
    with open(path, "a") as f:
        f.write("3,0.")  # a kill while writing the row of epoch 3
    keep_history_before(path, 2)  # the state says epochs 0 and 1 are done
    append_history_row(path, 2, {"loss": 0.5, "val_loss": 1.5})
    assert path.read_text().splitlines() == ["epoch,loss,val_loss", "0,1.0,2.0", "1,0.9,2.0", "2,0.5,1.5"]
    keep_history_before(path, 0)  # a fresh start
    assert not path.exists()
