"""/api/ routes: reports, their threads, the moderation queue and the audit (docs/APP.md).
The rules live in social/reports.py."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from reelforge.service.api.schemas import (
    AuditOut,
    MessageIn,
    Page,
    ReportIn,
    ReportOut,
    ResolveIn,
)
from reelforge.service.auth import ModeratorDep, Person, PersonDep
from reelforge.service.deps import StateDep, run_db
from reelforge.social import reports as rules

router = APIRouter(prefix="/api", tags=["app: moderation"])

Limit = Query(default=20, ge=1, le=100)
Status = Literal["open", "upheld", "dismissed"]


@router.post("/reports")
async def file_report(body: ReportIn, person: PersonDep, service: StateDep) -> ReportOut:
    def work(db: Session) -> ReportOut:
        report = rules.file_report(db, person, body)
        db.commit()
        return rules.report_outs(db, [report])[0]

    return await run_db(service, work)


@router.get("/reports")
async def list_reports(
    person: PersonDep,
    service: StateDep,
    status: Status | None = None,
    cursor: str | None = None,
    limit: int = Limit,
) -> Page[ReportOut]:
    """Moderators: the queue (open first). Anyone else: the reports they filed."""
    return await run_db(service, lambda db: rules.reports_page(db, person, status, cursor, limit))


@router.get("/reports/{report_id}")
async def get_report(report_id: str, person: PersonDep, service: StateDep) -> ReportOut:
    return await run_db(service, lambda db: _with_thread(db, report_id, person))


def _with_thread(db: Session, report_id: str, person: Person) -> ReportOut:
    report = rules.visible_report(db, report_id, person)
    return rules.report_outs(db, [report], with_messages=True)[0]


@router.post("/reports/{report_id}/messages")
async def add_message(
    report_id: str, body: MessageIn, person: PersonDep, service: StateDep
) -> ReportOut:
    """Write in the thread between the reporter and the moderators; returns the thread."""

    def work(db: Session) -> ReportOut:
        rules.add_message(db, rules.visible_report(db, report_id, person), person, body.body)
        db.commit()
        return _with_thread(db, report_id, person)

    return await run_db(service, work)


@router.post("/reports/{report_id}/resolve")
async def resolve(
    report_id: str, body: ResolveIn, moderator: ModeratorDep, service: StateDep
) -> ReportOut:
    """Uphold (take the target down everywhere) or dismiss."""

    def work(db: Session) -> ReportOut:
        report = rules.visible_report(db, report_id, moderator)
        rules.resolve(db, service, report, moderator, body)
        db.commit()
        return _with_thread(db, report_id, moderator)

    return await run_db(service, work)


@router.get("/moderation/audit")
async def audit(
    moderator: ModeratorDep,
    service: StateDep,
    cursor: str | None = None,
    limit: int = Limit,
) -> Page[AuditOut]:
    return await run_db(service, lambda db: rules.audit_page(db, cursor, limit))
