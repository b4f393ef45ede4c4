"""Projects and their members: created, joined, changed and left."""

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from jobs.accounts.models import Membership, Project, Role
from jobs.core.validation import Conflict, InvalidInput, clean_text, parse_field

from .audit import MEMBER_REMOVE, MEMBER_SET, PROJECT_CREATE, audit_record


def project_create(*, name, creator=None, slug=None):
    """Create a project; its creator becomes its admin. Returns the project."""
    errors = {}
    name = parse_field(errors, "name", clean_text, name, max_length=100, required=True)
    if errors:
        raise InvalidInput(errors)
    slug = slugify(slug or name)[:64].strip("-")
    if not slug:
        raise InvalidInput({"name": ["The name needs letters or digits."]})
    try:
        with transaction.atomic():
            project = Project.objects.create(name=name, slug=slug, created_by=creator)
            if creator is not None and not creator.is_superuser:
                Membership.objects.create(project=project, user=creator, role=Role.ADMIN)
            audit_record(action=PROJECT_CREATE, project=project, actor=creator)
    except IntegrityError:
        raise InvalidInput({"name": [f"A project '{slug}' exists; choose another name."]})
    return project


def project_rename(*, project, name):
    """Give `project` a new display name (its slug, in URLs and tokens, stays)."""
    errors = {}
    name = parse_field(errors, "name", clean_text, name, max_length=100, required=True)
    if errors:
        raise InvalidInput(errors)
    project.name = name
    project.save(update_fields=["name"])
    return project


def member_set(*, project, username, role, actor=None, token=None):
    """Add `username` to `project` with `role`, or change their role. Returns the
    membership; raises `InvalidInput` naming the bad field."""
    errors = {}
    if role not in Role.values:
        errors["role"] = [f'"{role}" is not a valid role; one of {", ".join(Role.values)}.']
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        errors["username"] = [f"No user '{username}'."]
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        before = Membership.objects.filter(project=project, user=user).first()
        membership, _ = Membership.objects.update_or_create(
            project=project, user=user, defaults={"role": role}
        )
        if before is None or before.role != role:
            detail = {"username": username, "from": before.role if before else None, "to": role}
            audit_record(
                action=MEMBER_SET, project=project, actor=actor, token=token, detail=detail
            )
    return membership


def member_remove(*, project, username, actor=None, token=None):
    """Remove `username` from `project`; the last admin cannot leave (`Conflict`)."""
    with transaction.atomic():
        # One project's membership changes run one at a time (the last-admin check).
        Project.objects.select_for_update().get(pk=project.pk)
        membership = Membership.objects.filter(project=project, user__username=username).first()
        if membership is None:
            return False
        admins = Membership.objects.filter(project=project, role=Role.ADMIN)
        if membership.role == Role.ADMIN and admins.count() == 1:
            raise Conflict("The last admin of a project cannot leave it; name another first.")
        membership.delete()
        detail = {"username": username, "from": membership.role}
        audit_record(action=MEMBER_REMOVE, project=project, actor=actor, token=token, detail=detail)
    return True
