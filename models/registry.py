"""The model registry: versioned models and their metadata in the object store (MinIO).

Layout in the ``models`` bucket::

    <kind>/<version>/metadata.json      what, when, trained on what, how, how well
    <kind>/<version>/<artefact files>   e.g. model.keras
    <kind>/PROMOTED                     the version serving code loads

Kinds: ``music`` (emotion), ``themes``, ``voice``.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from minio import Minio
from minio.error import S3Error

from models.exceptions import (
    FeatureSpecMismatchError,
    ModelNotFoundError,
    RegistryError,
    WorseModelError,
)
from models.storage import ObjectStore, minio_client

__all__ = ["ModelKind", "ModelRecord", "ModelRegistry", "store_trained_model"]

logger = logging.getLogger(__name__)

ModelKind = Literal["music", "themes", "voice"]
_KINDS = ("music", "themes", "voice")


@dataclass(frozen=True)
class ModelRecord:
    """A stored model's metadata."""

    kind: str
    version: str
    created_at: str
    feature_spec: str
    training_data: str
    hyperparameters: dict
    metrics: dict
    files: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)


class ModelRegistry:
    """Store, list, promote and fetch models in one bucket of the object store."""

    def __init__(self, store: ObjectStore, bucket: str, client: Minio | None = None) -> None:
        self.bucket = bucket
        self.client = client or minio_client(store)

    @staticmethod
    def _check_kind(kind: str) -> None:
        if kind not in _KINDS:
            raise RegistryError(f"model kind {kind!r} is not one of {', '.join(_KINDS)}")

    def push(
        self,
        kind: ModelKind,
        files: dict[str, Path],
        *,
        feature_spec: str,
        training_data: str,
        hyperparameters: dict,
        metrics: dict,
    ) -> ModelRecord:
        """Upload ``files`` (name -> local path) as a new version of ``kind``; return its record."""
        self._check_kind(kind)
        digest = hashlib.sha256()
        for name in sorted(files):
            digest.update(name.encode())
            digest.update(Path(files[name]).read_bytes())
        now = datetime.now(timezone.utc)
        version = f"{kind}-{now:%Y%m%dT%H%M%S}-{digest.hexdigest()[:8]}"
        record = ModelRecord(
            kind=kind,
            version=version,
            created_at=now.isoformat(timespec="seconds"),
            feature_spec=feature_spec,
            training_data=training_data,
            hyperparameters=hyperparameters,
            metrics=metrics,
            files=sorted(files),
        )
        try:
            if not self.client.bucket_exists(self.bucket):
                self.client.make_bucket(self.bucket)
            for name, path in files.items():
                self.client.fput_object(self.bucket, f"{kind}/{version}/{name}", str(path))
            self._put_json(f"{kind}/{version}/metadata.json", record.to_json())
        except S3Error as exc:
            raise RegistryError(
                f"could not store {version} in bucket {self.bucket!r}: {exc}"
            ) from exc
        logger.info("stored model %s", version)
        return record

    def _put_json(self, key: str, text: str) -> None:
        data = text.encode()
        self.client.put_object(
            self.bucket, key, io.BytesIO(data), len(data), content_type="application/json"
        )

    def _get_text(self, key: str) -> str | None:
        try:
            response = self.client.get_object(self.bucket, key)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "NoSuchBucket"):
                return None
            raise RegistryError(f"could not read {key} from bucket {self.bucket!r}: {exc}") from exc
        try:
            return response.read().decode()
        finally:
            response.close()
            response.release_conn()

    def show(self, kind: ModelKind, version: str) -> ModelRecord:
        """The record of one version."""
        self._check_kind(kind)
        text = self._get_text(f"{kind}/{version}/metadata.json")
        if text is None:
            raise ModelNotFoundError(
                f"no {kind} model {version!r} in the registry (see `moodstream models list`)"
            )
        return ModelRecord(**json.loads(text))

    def list(self, kind: ModelKind | None = None) -> list[ModelRecord]:
        """Every stored version (of ``kind``, or of all kinds), oldest first."""
        kinds = [kind] if kind else list(_KINDS)
        records: list[ModelRecord] = []
        if not self.client.bucket_exists(self.bucket):
            return records
        for k in kinds:
            self._check_kind(k)
            for obj in self.client.list_objects(self.bucket, prefix=f"{k}/", recursive=False):
                if obj.is_dir:
                    version = obj.object_name.rstrip("/").split("/")[-1]
                    try:
                        records.append(self.show(k, version))
                    except ModelNotFoundError:
                        logger.warning(
                            "skipping %s/%s: no metadata.json (an interrupted push?)", k, version
                        )
        return sorted(records, key=lambda r: (r.kind, r.created_at, r.version))

    def promote(self, kind: ModelKind, version: str, *, force: bool = False) -> ModelRecord:
        """Make ``version`` the one serving code loads.

        A model whose stored cross-validation accuracy (``metrics["cv_accuracy"]``) is below
        the promoted model's, measured on the same training data (same fingerprint), is refused
        unless ``force``: a retraining must not silently replace a better model. Models without
        a stored CV accuracy, or trained on other data, are not compared.

        Raises
        ------
        ModelNotFoundError
            No such version.
        WorseModelError
            The comparison above failed and ``force`` is not set.
        """
        record = self.show(kind, version)
        current_version = self.promoted_version(kind)
        if not force and current_version not in (None, version):
            _check_not_worse(record, self.show(kind, current_version))
        self._put_json(f"{kind}/PROMOTED", json.dumps({"version": version}))
        logger.info("promoted %s", version)
        return record

    def promoted_version(self, kind: ModelKind) -> str | None:
        """The promoted version of ``kind``, or None."""
        self._check_kind(kind)
        text = self._get_text(f"{kind}/PROMOTED")
        return json.loads(text)["version"] if text else None

    def fetch(
        self,
        kind: ModelKind,
        version: str | None = None,
        *,
        dest: Path,
        expected_feature_spec: str | None = None,
    ) -> tuple[ModelRecord, Path]:
        """Download a version (default: the promoted one) into ``dest``; return (record, folder).

        Raises
        ------
        ModelNotFoundError
            Nothing promoted, or no such version.
        FeatureSpecMismatchError
            The model was trained on another feature spec than ``expected_feature_spec``.
        """
        if version is None:
            version = self.promoted_version(kind)
            if version is None:
                raise ModelNotFoundError(
                    f"no {kind} model is promoted; train one (`moodstream train {kind}`) and "
                    f"`moodstream models promote {kind} VERSION`"
                )
        record = self.show(kind, version)
        if expected_feature_spec is not None and record.feature_spec != expected_feature_spec:
            raise FeatureSpecMismatchError(
                f"{version} was trained on features {record.feature_spec}, but this code computes "
                f"{expected_feature_spec}; retrain with `moodstream train {kind}` and promote the new model"
            )
        folder = Path(dest) / version
        folder.mkdir(parents=True, exist_ok=True)
        for name in record.files:
            target = folder / name
            if not target.exists():
                tmp = target.with_suffix(target.suffix + ".part")
                self.client.fget_object(self.bucket, f"{kind}/{version}/{name}", str(tmp))
                tmp.replace(target)
        return record, folder


def _check_not_worse(candidate: ModelRecord, current: ModelRecord) -> None:
    new, old = candidate.metrics.get("cv_accuracy"), current.metrics.get("cv_accuracy")
    if new is None or old is None or candidate.training_data != current.training_data:
        return
    if new < old:
        raise WorseModelError(
            f"{candidate.version} scored {100 * new:.1f} % in cross-validation, below the promoted "
            f"{current.version} ({100 * old:.1f} %) on the same training data; promote it with "
            "--force if that is really meant"
        )


def store_trained_model(
    registry: ModelRegistry | None,
    kind: ModelKind,
    out_dir: Path,
    *,
    history: dict,
    training: dict,
    clips: list,
    file_hashes: list[str],
    feature_spec: str,
    hyperparameters: dict,
    promote: bool,
    cross_validation: dict | None = None,
    artefact: str = "model.keras",
    corpora: dict | None = None,
) -> ModelRecord | None:
    """Write ``training.json`` next to ``out_dir/<artefact>``; push both to ``registry`` (and
    promote them). With no registry the model stays in ``out_dir`` only and ``None`` is returned.

    Metrics come from the ``history``: epochs (Keras models), last training accuracy, best
    validation accuracy (when a validation split was used), and the number of clips;
    ``cross_validation`` (``cv_accuracy``, ``cv_folds``, ``cv_per_fold``) joins them when the job
    ran one. ``corpora`` (:func:`models.datasets.corpora.describe_corpora`) says what the
    model heard: ``metrics["corpora"]`` names them, ``metrics["synthetic_only"]`` is true for
    a model that never heard real audio.
    """
    from models.datasets.labelled import dataset_fingerprint

    metrics = {"train_accuracy": float(history["accuracy"][-1]), "clips": len(clips)}
    if "loss" in history:
        metrics["epochs"] = len(history["loss"])
    if "val_accuracy" in history:
        metrics["val_accuracy"] = float(max(history["val_accuracy"]))
    metrics.update(cross_validation or {})
    if corpora is not None:
        metrics["corpora"] = sorted(corpora["corpora"])
        metrics["synthetic_only"] = corpora["synthetic_only"]
        training = {**training, "corpora": corpora["corpora"]}
    (Path(out_dir) / "training.json").write_text(
        json.dumps({**training, "metrics": metrics, "history": history}, indent=2)
    )
    if registry is None:
        return None
    record = registry.push(
        kind,
        {name: Path(out_dir) / name for name in (artefact, "training.json")},
        feature_spec=feature_spec,
        training_data=dataset_fingerprint(clips, file_hashes),
        hyperparameters=hyperparameters,
        metrics=metrics,
    )
    if promote:
        registry.promote(kind, record.version)
    return record
