"""The organiser's mailings page: a message to a filtered set of registrations (write,
preview with the count, send), the certificates of attendance, the reminder's state."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as BaseResponse
from wtforms import HiddenField, StringField, TextAreaField

from tracker.auth.access import MANAGE, event_for, require
from tracker.db import get_db, utcnow
from tracker.errors import DomainError
from tracker.i18n import lazy_gettext as _l
from tracker.mailings import certificate, services
from tracker.models import Event, MailingKind, User
from tracker.organiser.services import Filters
from tracker.questions import answers as qa
from tracker.registration.forms import STATUS_LABELS, TYPE_SHORT_LABELS

bp = Blueprint("mailings", __name__)

INVALID = 422

KIND_LABELS = {
    MailingKind.MESSAGE: _l("Message"),
    MailingKind.CERTIFICATE: _l("Certificates of attendance"),
}


class MessageForm(FlaskForm):
    subject = StringField(_l("Subject"), render_kw={"maxlength": services.SUBJECT_MAX})
    body = TextAreaField(_l("Message"), render_kw={"rows": 10})
    nonce = HiddenField()
    expected = HiddenField()


class SendForm(FlaskForm):
    nonce = HiddenField()
    expected = HiddenField()


def _actor() -> User:
    return current_user._get_current_object()


def _expected(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 10 else None


def _page(event: Event, form: MessageForm, filters: Filters, status: int = 200) -> tuple[str, int]:
    db = get_db()
    over = certificate.is_over(event)
    return render_template(
        "organiser/mailings.html",
        event=event,
        form=form,
        filters=filters,
        recipients=services.message_recipients(db, event, filters),
        present=services.certificate_recipients(db, event) if over else None,
        over=over,
        reminder=services.reminder_state(db, event),
        mailings=services.mailings_of(db, event),
        answer_filters=qa.filter_choices(event),
        kind_labels=KIND_LABELS,
        status_labels=STATUS_LABELS,
        type_labels={t.value: label for t, label in TYPE_SHORT_LABELS.items()},
        now=utcnow(),
    ), status


@bp.route("/events/<slug>/mailings")
@require(MANAGE)
def index(slug: str) -> tuple[str, int]:
    event = event_for(slug, MANAGE)
    return _page(event, MessageForm(formdata=None), Filters.parse(request.args, event))


def _preview_page(
    event: Event, form: MessageForm, filters: Filters, draft: services.Draft, status: int = 200
) -> tuple[str, int]:
    _draft, preview = services.preview_message(get_db(), event, filters, draft)
    form.nonce.data = form.nonce.data or services.new_nonce()
    return _render_preview(event, form, filters, preview, url_for(".send", slug=event.slug), status)


def _render_preview(
    event: Event,
    form: MessageForm | SendForm,
    filters: Filters | None,
    preview: services.Preview,
    action: str,
    status: int,
) -> tuple[str, int]:
    """The page that shows what will be sent and to how many, before sending (a message
    to a filtered list, or the certificates of attendance)."""
    form.expected.data = str(preview.recipients.count)
    return render_template(
        "organiser/mailing_preview.html",
        event=event,
        form=form,
        filters=filters,
        preview=preview,
        language_names=services.LANGUAGE_NAMES,
        action=action,
        status_labels=STATUS_LABELS,
        type_labels={t.value: label for t, label in TYPE_SHORT_LABELS.items()},
    ), status


def _show_error(form: FlaskForm, error: DomainError) -> None:
    field = getattr(form, error.field, None) if error.field else None
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, error.message]
    else:
        flash(str(error.message), "error")


@bp.route("/events/<slug>/mailings/preview", methods=["POST"])
@require(MANAGE)
def preview(slug: str) -> tuple[str, int]:
    event = event_for(slug, MANAGE)
    form = MessageForm()
    filters = Filters.parse(request.form, event)
    if not form.validate_on_submit():
        return _page(event, form, filters, INVALID)
    draft = services.Draft(form.subject.data or "", form.body.data or "")
    try:
        draft = draft.checked()
    except DomainError as e:
        _show_error(form, e)
        return _page(event, form, filters, INVALID)
    return _preview_page(event, form, filters, draft)


@bp.route("/events/<slug>/mailings/send", methods=["POST"])
@require(MANAGE)
def send(slug: str) -> BaseResponse | tuple[str, int]:
    event = event_for(slug, MANAGE)
    form = MessageForm()
    filters = Filters.parse(request.form, event)
    if not form.validate_on_submit():
        return _page(event, form, filters, INVALID)
    draft = services.Draft(form.subject.data or "", form.body.data or "")
    try:
        sent = services.send_message(
            get_db(),
            event,
            filters,
            draft,
            actor=_actor(),
            nonce=form.nonce.data or "",
            expected=_expected(form.expected.data),
        )
    except services.RecipientsChanged as e:
        flash(str(e.message), "warning")
        return _preview_page(event, form, filters, draft, 409)
    except DomainError as e:
        _show_error(form, e)
        return _page(event, form, filters, INVALID)
    _flash_sent(sent)
    return redirect(url_for(".index", slug=event.slug), code=303)


def _flash_sent(sent: services.Sent) -> None:
    if sent.again:
        flash(_l("This mailing had already been sent: it was not sent again."), "info")
        return
    flash(
        ngettext(
            "The e-mail is on its way to %(num)d person.",
            "The e-mail is on its way to %(num)d people.",
            sent.mailing.recipients,
        ),
        "success",
    )


@bp.route("/events/<slug>/mailings/certificates", methods=["GET", "POST"])
@require(MANAGE)
def certificates(slug: str) -> BaseResponse | tuple[str, int]:
    event = event_for(slug, MANAGE)
    db = get_db()
    form = SendForm()
    if request.method == "POST" and form.validate_on_submit():
        try:
            sent = services.send_certificates(
                db,
                event,
                actor=_actor(),
                nonce=form.nonce.data or "",
                expected=_expected(form.expected.data),
            )
        except services.RecipientsChanged as e:
            flash(str(e.message), "warning")
        except DomainError as e:
            flash(str(e.message), "error")
            return redirect(url_for(".index", slug=event.slug), code=303)
        else:
            _flash_sent(sent)
            return redirect(url_for(".index", slug=event.slug), code=303)
    if not certificate.is_over(event):
        flash(
            _l("Certificates of attendance can be sent once the event is over."),
            "error",
        )
        return redirect(url_for(".index", slug=event.slug), code=303)
    form.nonce.data = services.new_nonce()
    return _render_preview(
        event,
        form,
        None,
        services.preview_certificates(db, event),
        url_for(".certificates", slug=event.slug),
        409 if request.method == "POST" else 200,
    )
