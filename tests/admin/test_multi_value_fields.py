"""Every field that holds several records, on every admin form, takes two or more of them as
the browser posts them. Found from the views' form classes: a new picker is covered without a
test of its own. (select2 posts an autocomplete's ids as one value, "1,4"; they were once
counted as one choice against two records, and the form refused them.)"""

from __future__ import annotations

from typing import Any

from flask_admin.contrib.sqla.fields import QuerySelectMultipleField
from flask_admin.model.fields import AjaxSelectMultipleField
from flask_login import login_user
from werkzeug.datastructures import MultiDict

from crm.admin.base import CrmModelView
from crm.extensions import db
from crm.models import Account, Category, Criterion

MULTI = (AjaxSelectMultipleField, QuerySelectMultipleField)


def _records(model: type, make_contact, admin) -> list[Any]:
    """Two records of `model` the admin sees, made when there are none."""
    from crm.models import Contact

    if model is Contact:
        return [
            make_contact(admin, first_name="Ana", last_name="Smith"),
            make_contact(admin, first_name="Bo", last_name="Lee"),
        ]
    existing = db.session.scalars(db.select(model).order_by(model.id).limit(2)).all()
    if model is not Account and len(existing) == 2:  # roles, lookups the app ships with
        return list(existing)
    if model is Account:
        rows = [Account(name="Globex", owner=admin), Account(name="Initech", owner=admin)]
    elif model is Category:
        rows = [Category(name="Retail"), Category(name="Wholesale")]
    elif model is Criterion:
        rows = [Criterion(name="Season ticket"), Criterion(name="Newsletter")]
    else:
        rows = [model(name=f"First {model.__name__}"), model(name=f"Second {model.__name__}")]
    db.session.add_all(rows)
    db.session.commit()
    return rows


def _offered(field: Any) -> list[Any]:
    """The first two records the field offers (an autocomplete: those its search finds)."""
    if isinstance(field, AjaxSelectMultipleField):
        return field.loader.get_query().limit(2).all()
    return list(field.query_factory())[:2]


def _model_of(field: Any) -> type:
    if isinstance(field, AjaxSelectMultipleField):
        return field.loader.model
    return field.query_factory().column_descriptions[0]["entity"]


def _multi_fields(form: Any) -> list[Any]:
    return [field for field in form if isinstance(field, MULTI)]


def test_every_multi_value_field_takes_two_or_more_records(app, make_user, make_contact):
    admin = make_user("crm_admin")
    make_user("crm_sales")  # a second employee, for the user pickers
    seen: list[str] = []
    with app.test_request_context("/admin/"):
        login_user(admin)
        for view in app.extensions["admin"][0]._views:
            if not isinstance(view, CrmModelView) or not view.can_create:
                continue
            form_class = view.get_create_form()
            for field in _multi_fields(form_class(MultiDict())):
                records = _offered(field)
                if len(records) < 2:  # none yet: made, then offered like any other
                    _records(_model_of(field), make_contact, admin)
                    records = _offered(field)
                ids = [str(r.id) for r in records]
                if isinstance(field, AjaxSelectMultipleField):
                    posted = MultiDict([(field.name, ",".join(ids))])  # as select2 posts them
                else:
                    posted = MultiDict([(field.name, i) for i in ids])
                form = form_class(posted)
                form.validate()
                chosen = next(f for f in form if f.name == field.name)
                label = f"{view.endpoint}.{field.name}"
                assert not chosen.errors, (label, chosen.errors)
                assert sorted(r.id for r in chosen.data) == sorted(r.id for r in records), label
                seen.append(label)
    # The pickers the browser once refused are among those checked.
    for expected in ("contact.linked_accounts", "deal.contacts", "appointment.contacts",
                     "appointment.accounts"):  # fmt: skip
        assert expected in seen, seen
