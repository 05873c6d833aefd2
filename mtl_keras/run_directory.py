"""The output directory of `mtl-ads train`: checked before training, resumable, replaced atomically.

OUT holds a finished model (saved_model/, metrics.json, config.json) or does not exist. While a run
trains, its state lives in the sibling OUT.partial/: run.json (what the run is: config and data),
backup/ (the checkpoint), history.jsonl (the finished epochs' logs). The finished model is written
to OUT.partial/model/ and renamed to OUT, so a kill never leaves new weights beside an old
config.json or metrics.json, nor a half-written saved_model/.

A rerun finds OUT.partial/: the same config and data with a checkpoint resume it; a different one is
an error (or, with overwrite, discarded); without run.json or a checkpoint it is discarded.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from typing import Callable, Dict, List, Optional

OUTPUTS = ("saved_model", "metrics.json", "config.json")
_RUN_FILE, _DONE_FILE = "run.json", "run.done.json"
_STATE_ENTRIES = {_RUN_FILE, _DONE_FILE, "backup", "history.jsonl", "model", "replaced", "run.json.tmp"}


class RunDirectory:
    """--out of `mtl-ads train`. `fingerprint` (JSON-able) identifies the run: equal fingerprints resume.

    `prepare()` checks everything before training and returns "new" or "resume"; `commit(write)`
    calls `write(directory)` to fill a fresh directory and puts it in place of OUT."""

    def __init__(self, out: str, fingerprint: Dict, overwrite: bool = False, flag: str = "--out"):
        if not isinstance(out, str) or not out.strip():
            raise ValueError(f"{flag} must be a directory path, got {out!r}.")
        self.out = os.path.abspath(out)
        self.partial = self.out + ".partial"
        self.fingerprint = json.loads(json.dumps(fingerprint))
        self.overwrite = overwrite
        self.flag = flag

    @property
    def backup_dir(self) -> str:
        return os.path.join(self.partial, "backup")

    @property
    def history_path(self) -> str:
        return os.path.join(self.partial, "history.jsonl")

    def prepare(self) -> str:
        """Raises a ValueError naming --out and the fix when it cannot take this run; "resume" when
        OUT.partial holds a checkpoint of this same run, else "new" (OUT.partial then starts empty)."""
        self._restore_replaced()
        self._check_out()
        self._check_writable(os.path.dirname(self.out))
        state = self._existing_state()
        if state != "resume":
            if os.path.lexists(self.partial):
                shutil.rmtree(self.partial)
            try:
                os.makedirs(self.partial)
            except OSError as err:
                raise ValueError(f"{self.flag} {self.out!r}: cannot create {self.partial!r} "
                                 f"({err.strerror}).") from None
            temporary = os.path.join(self.partial, "run.json.tmp")
            with open(temporary, "w", encoding="utf-8") as f:
                json.dump(self.fingerprint, f, indent=2)
            os.replace(temporary, os.path.join(self.partial, _RUN_FILE))
        return state

    def discard_if_unstarted(self) -> None:
        """Removes OUT.partial when it holds no checkpoint (training failed or stopped before one)."""
        if os.path.isdir(self.partial) and not _has_checkpoint(self.backup_dir):
            shutil.rmtree(self.partial, ignore_errors=True)

    def commit(self, write: Callable[[str], None]) -> None:
        """`write(staging)` fills OUT.partial/model; it then replaces OUT and OUT.partial is removed."""
        staging = os.path.join(self.partial, "model")
        if os.path.lexists(staging):
            shutil.rmtree(staging)
        os.makedirs(staging)
        write(staging)
        os.replace(os.path.join(self.partial, _RUN_FILE), os.path.join(self.partial, _DONE_FILE))
        if os.path.lexists(self.out):
            os.rename(self.out, os.path.join(self.partial, "replaced"))
        os.rename(staging, self.out)
        shutil.rmtree(self.partial, ignore_errors=True)

    # ---- checks ----

    def _check_out(self) -> None:
        if os.path.lexists(self.out) and not os.path.isdir(self.out):
            raise ValueError(f"{self.flag} {self.out!r} is a file; give a directory path for the model "
                             "(a new one, or one holding a model to replace with --overwrite).")
        if not os.path.isdir(self.out):
            return
        try:
            entries = sorted(os.listdir(self.out))
        except OSError as err:
            raise ValueError(f"{self.flag} {self.out!r} cannot be read ({err.strerror}).") from None
        foreign = [e for e in entries if e not in OUTPUTS]
        if foreign:
            raise ValueError(f"{self.flag} {self.out!r} holds files that mtl-ads train did not write "
                             f"({', '.join(foreign[:5])}{', ...' if len(foreign) > 5 else ''}). Fix: give a new or "
                             "empty directory; --overwrite only replaces a model directory.")
        if entries and not self.overwrite:
            raise ValueError(f"{self.flag} {self.out!r} already holds a trained model ({', '.join(entries)}). "
                             "Fix: pass --overwrite to replace it, or choose another --out.")

    def _check_writable(self, parent: str) -> None:
        existing = parent
        while not os.path.exists(existing):
            existing = os.path.dirname(existing)
        if not os.path.isdir(existing):
            raise ValueError(f"{self.flag} {self.out!r}: {existing!r} is a file, not a directory.")
        try:
            os.makedirs(parent, exist_ok=True)
            handle, probe = tempfile.mkstemp(prefix=".write-test-", dir=parent)
            os.close(handle)
            os.remove(probe)
        except OSError as err:
            raise ValueError(f"{self.flag} {self.out!r} is not writable: cannot write in {parent!r} "
                             f"({err.strerror}). Fix: choose a directory you can write to.") from None

    def _restore_replaced(self) -> None:
        """After a kill between the two renames of `commit`, OUT is missing: put the old model back."""
        replaced = os.path.join(self.partial, "replaced")
        if os.path.isdir(replaced) and not os.path.lexists(self.out):
            os.rename(replaced, self.out)

    def _existing_state(self) -> str:
        """"resume" for a checkpoint of this run in OUT.partial; raises for another run's; else "new"."""
        if not os.path.lexists(self.partial):
            return "new"
        if not os.path.isdir(self.partial):
            raise ValueError(f"{self.flag} {self.out!r}: {self.partial!r} (where an unfinished run is kept) is a "
                             "file. Fix: remove it or choose another --out.")
        foreign = sorted(set(os.listdir(self.partial)) - _STATE_ENTRIES)
        if foreign:
            raise ValueError(f"{self.flag} {self.out!r}: {self.partial!r} holds files that are not an unfinished "
                             f"mtl-ads train run ({', '.join(foreign[:5])}). Fix: remove it or choose another --out.")
        saved = self._saved_fingerprint()
        if saved is None or not _has_checkpoint(self.backup_dir):
            return "new"  # nothing to resume: a run killed before its first checkpoint, or a finished one
        if saved == self.fingerprint:
            return "resume"
        if self.overwrite:
            return "new"
        raise ValueError(f"{self.flag} {self.out!r} has an unfinished run (in {self.partial!r}) with a different "
                         f"{', '.join(_differences(saved, self.fingerprint))}. Fix: rerun with the same config and "
                         "data to resume it, or pass --overwrite to discard it and start over.")

    def _saved_fingerprint(self) -> Optional[Dict]:
        try:
            with open(os.path.join(self.partial, _RUN_FILE), encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError):
            return None


def _has_checkpoint(backup_dir: str) -> bool:
    return os.path.isfile(os.path.join(backup_dir, "chief", "checkpoint"))


def _differences(saved: Dict, current: Dict) -> List[str]:
    """'config (learning_rate, epochs)', 'data': the keys whose values differ, one level into dicts."""
    out = []
    for key in sorted(set(saved) | set(current)):
        a, b = saved.get(key), current.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            fields = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            out.append(f"{key} ({', '.join(fields)})")
        else:
            out.append(key)
    return out
