"""Registry API: registrations and every step of their workflow (signed in), and the public, login-free reads:
certificates by number, the cases in publicity, and the transparency log (checkpoints, entries, proofs, keys) that
monitors follow. Thin door into registry.service and registry.log."""

from __future__ import annotations

import base64
from typing import Annotated, Literal

from fastapi import Path, Query
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from shengjing.errors import NotFound
from shengjing.identity.principal import Principal
from shengjing.registry import log, service
from shengjing.registry import permissions as perms
from shengjing.registry.schemas import (
    CertificateOut,
    RegistrationOut,
    RegistrationSummary,
    Reminder,
    Status,
    Unregistered,
)
from shengjing.web.deps import DB, api_router, public, requires

router = api_router("registry")
Number = Annotated[str, Path(pattern=r"^[0-9]{19}[0-9Xx]$", description="登记号 (20 characters)")]
CertificateNo = Annotated[
    str, Path(pattern=r"^SJDJ-[0-9]{4}-[0-9]{2}-[0-9]{6}-[0-9]{2}-[0-9]{6}$", description="登记证书编号")
]
Index = Annotated[int, Query(ge=0, le=2**62)]
NoteText = Annotated[str, Field(max_length=2000, pattern=r"^[^\x00]*$")]
MAX_ENTRIES = 1000


class DocumentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    document: Annotated[str, Field(min_length=1, max_length=200_000, description="YAML or JSON 登记申请书")]
    note: NoteText = ""


class ApplicationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    document: Annotated[str, Field(min_length=1, max_length=200_000, description="YAML or JSON 登记申请书")]
    applicant: Annotated[
        str | None, Field(max_length=64, description="The authority files for this organization (paper application)")
    ] = None


class DocumentOut(BaseModel):
    document: str


class DraftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    object_kind: Literal["resource", "product"] = "resource"
    code: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{1,63}$")]
    version: Annotated[int | None, Field(ge=1, le=2**31 - 1)] = None
    name: Annotated[str, Field(max_length=200, pattern=r"^[^\x00\r\n]*$")] = ""


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: NoteText = ""


class RefusalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ground: Literal["core_data", "unlawful_source", "rights_in_dispute", "incomplete", "other"]
    note: Annotated[str, Field(min_length=1, max_length=2000, pattern=r"^[^\x00]*$")]


class ObjectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(min_length=1, max_length=4000, pattern=r"^[^\x00]*$")]
    objector: Annotated[str, Field(max_length=200, pattern=r"^[^\x00\r\n]*$")] = ""
    contact: Annotated[str, Field(max_length=200, pattern=r"^[^\x00\r\n]*$")] = ""


class ResolutionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["dismiss", "uphold"]
    note: Annotated[str, Field(min_length=1, max_length=2000, pattern=r"^[^\x00]*$")]


class VerifyOut(BaseModel):
    ok: bool
    tree_size: int
    registrations: int
    certificates: int
    problems: list[str]


class EntryOut(BaseModel):
    index: int
    entry: str  # base64 of the exact bytes the leaf hash covers
    leaf_hash: str


class ProofOut(BaseModel):
    leaf_index: int | None = None
    old_size: int | None = None
    tree_size: int
    proof: list[str]


class KeysOut(BaseModel):
    origin: str
    pem: str  # the certificate key and the log key, as `shengjing verify --key` takes them


STATUSES = "^(" + "|".join(s.value for s in Status) + ")$"


# --- signed in: registrations and their workflow -----------------------------------------------------------------


@router.get("/registrations")
def list_registrations(
    db: DB,
    status: Annotated[str | None, Query(pattern=STATUSES)] = None,
    overdue: bool = False,
    actor: Principal = requires(perms.REGISTRATION_VIEW),
) -> list[RegistrationSummary]:
    return service.list_registrations(db, actor, status=status, overdue=overdue)


@router.get("/registrations/overdue")
def overdue(db: DB, actor: Principal = requires(perms.REGISTRATION_REVIEW)) -> list[Reminder]:
    """The cases the authority is late on, most overdue first."""
    return service.reminders(db, actor)


@router.get("/registrations/unregistered")
def unregistered(db: DB, actor: Principal = requires(perms.REGISTRATION_VIEW)) -> list[Unregistered]:
    """Resources in the authorized-operation scope with no registration in force or under way."""
    return service.unregistered_in_scope(db, actor)


@router.post("/registrations/draft")
def draft(body: DraftIn, db: DB, actor: Principal = requires(perms.REGISTRATION_ADD)) -> DocumentOut:
    """An application to start from, filled in from the catalog (or the released sandbox run of a product)."""
    text = service.draft_document(
        db, actor, object_kind=body.object_kind, code=body.code, version=body.version, name=body.name
    )
    return DocumentOut(document=text)


@router.post("/registrations")
def apply(body: ApplicationIn, db: DB, actor: Principal = requires(perms.REGISTRATION_ADD)) -> RegistrationOut:
    return service.apply(db, actor, body.document, applicant=body.applicant)


@router.get("/registrations/{number}")
def show(number: Number, db: DB, actor: Principal = requires(perms.REGISTRATION_VIEW)) -> RegistrationOut:
    return service.get_registration(db, actor, number)


@router.put("/registrations/{number}/document")
def amend(
    number: Number, body: DocumentIn, db: DB, actor: Principal = requires(perms.REGISTRATION_ADD)
) -> RegistrationOut:
    """Resubmit an application that was returned for correction."""
    return service.amend(db, actor, number, body.document, body.note)


@router.post("/registrations/{number}/withdraw")
def withdraw(
    number: Number, body: NoteIn, db: DB, actor: Principal = requires(perms.REGISTRATION_ADD)
) -> RegistrationOut:
    return service.withdraw(db, actor, number, body.note)


def _authority_route(name: str, step: str) -> None:
    fn = getattr(service, name)

    def route(
        number: Number, body: NoteIn, db: DB, actor: Principal = requires(perms.REGISTRATION_REVIEW)
    ) -> RegistrationOut:
        return fn(db, actor, number, body.note)  # type: ignore[no-any-return]

    route.__name__ = name
    router.post(f"/registrations/{{number}}/{step}", summary=f"{step.capitalize()} a registration")(route)


for _name, _step in (
    ("accept", "accept"),
    ("return_for_correction", "return"),
    ("publicize", "publicize"),
    ("issue", "issue"),
):
    _authority_route(_name, _step)


@router.post("/registrations/{number}/refuse")
def refuse(
    number: Number, body: RefusalIn, db: DB, actor: Principal = requires(perms.REGISTRATION_REVIEW)
) -> RegistrationOut:
    """Refuse on a named ground, with the reasons."""
    return service.refuse(db, actor, number, body.ground, body.note)


@router.post("/registrations/{number}/objections")
def object_(
    number: Number, body: ObjectionIn, db: DB, actor: Principal = requires(perms.OBJECTION_ADD)
) -> RegistrationOut:
    """Object during publicity: the case pauses until the authority resolves it."""
    return service.raise_objection(db, actor, number, body.reason, objector=body.objector, contact=body.contact)


@router.post("/registrations/{number}/objections/{objection_id}/resolve")
def resolve(
    number: Number,
    objection_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    body: ResolutionIn,
    db: DB,
    actor: Principal = requires(perms.REGISTRATION_REVIEW),
) -> RegistrationOut:
    return service.resolve_objection(db, actor, number, objection_id, body.decision, body.note)


@router.get("/registry/verify")
def verify(db: DB, actor: Principal = requires(perms.REGISTRY_VERIFY)) -> VerifyOut:
    """Recompute the whole transparency log and check every registration, step and certificate against it."""
    report = service.verify_register(db, actor)
    problems = report.findings
    return VerifyOut(
        ok=report.ok,
        tree_size=report.log_report.size,
        registrations=report.registrations,
        certificates=report.certificates,
        problems=problems,
    )


class AnchorOut(BaseModel):
    index: int


@router.post("/registry/log/anchor")
def anchor(db: DB, actor: Principal = requires(perms.REGISTRY_VERIFY)) -> AnchorOut:
    """Anchor the audit chain's head in the log now, and sign a checkpoint."""
    return AnchorOut(index=service.anchor_audit(db, actor))


# --- public: certificates, publicity, the transparency log -------------------------------------------------------


@router.get("/registry/certificates/{number}")
def certificate(number: CertificateNo, db: DB, viewer: Principal | None = public()) -> CertificateOut:
    """A certificate and its status now (valid, superseded, cancelled): anyone may look it up."""
    return service.certificate_status(db, number)


@router.get("/registry/certificates/{number}/bundle")
def certificate_bundle(number: CertificateNo, db: DB, viewer: Principal | None = public()) -> dict[str, object]:
    """The signed bundle, its inclusion proof to the log's latest checkpoint: `shengjing verify` checks it offline."""
    return service.certificate_bundle(db, number)


@router.get("/registry/publicity")
def publicity(db: DB, viewer: Principal | None = public()) -> list[RegistrationSummary]:
    """The registrations in publicity (公示) now, and those paused by an objection."""
    return service.publicity_list(db)


@router.get(
    "/registry/log/checkpoint",
    response_class=Response,
    responses={
        200: {"description": "The signed note 签名树头", "content": {"text/plain": {"schema": {"type": "string"}}}}
    },
)
def checkpoint(db: DB, viewer: Principal | None = public()) -> Response:
    """The latest signed checkpoint (C2SP signed note: origin, size, root hash, Ed25519 signature)."""
    latest = log.latest_checkpoint(db)
    if latest is None:
        raise NotFound.of("检查点", "checkpoint", "latest")
    return PlainTextResponse(latest.note)


@router.get("/registry/log/entries")
def entries(db: DB, start: Index = 0, end: Index = MAX_ENTRIES, viewer: Principal | None = public()) -> list[EntryOut]:
    """Entries [start, end), at most 1000 at a time: each exact bytes (base64) and its leaf hash."""
    size = log.size(db)
    stop = min(end, start + MAX_ENTRIES, size)
    return [
        EntryOut(index=i, entry=base64.b64encode(data).decode(), leaf_hash=digest.hex())
        for i, data, digest in log.entries(db, start, stop)
    ]


@router.get("/registry/log/proof/inclusion")
def inclusion(db: DB, index: Index, size: Index, viewer: Principal | None = public()) -> ProofOut:
    return ProofOut(leaf_index=index, tree_size=size, proof=[h.hex() for h in log.inclusion(db, index, size)])


@router.get("/registry/log/proof/consistency")
def consistency(db: DB, old: Index, new: Index, viewer: Principal | None = public()) -> ProofOut:
    return ProofOut(old_size=old, tree_size=new, proof=[h.hex() for h in log.consistency(db, old, new)])


@router.get("/registry/log/keys")
def keys(db: DB, viewer: Principal | None = public()) -> KeysOut:
    """The public keys a verifier needs: the certificate key and the log's checkpoint key, in PEM."""
    settings = db.info["settings"]
    return KeysOut(origin=settings.registry_log_origin, pem=service.public_keys_pem(settings).decode())
