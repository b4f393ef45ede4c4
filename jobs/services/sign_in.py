"""Single sign-on: the account of a person an OpenID Connect provider vouched for, and
the project roles their provider groups give them (docs/security.md, "Single sign-on")."""

import logging

from django.contrib.auth import get_user_model
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from jobs.accounts.models import ROLE_RANK, Membership, Project, SignInIdentity
from jobs.core.validation import Conflict, InvalidInput

from .projects import member_remove, member_set

logger = logging.getLogger(__name__)


def _clean_username(raw):
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError("The provider sent no username.")
    username = raw.strip()
    if len(username) > 150:
        raise ValueError("The provider's username is longer than 150 characters.")
    try:
        UnicodeUsernameValidator()(username)
    except ValidationError as exc:
        raise ValueError(" ".join(exc.messages)) from None
    return username


def roles_from_groups(groups, role_map):
    """`{project slug: role}` that `groups` give through `role_map` (`(group, slug, role)`
    triples); a person in several mapped groups gets the highest role of each project."""
    groups = set(groups)
    wanted = {}
    for group, slug, role in role_map:
        if group in groups and ROLE_RANK[role] > ROLE_RANK.get(wanted.get(slug), 0):
            wanted[slug] = role
    return wanted


def sign_in_identity_user(*, issuer, subject, username, email="", groups=(), role_map=()):
    """The user that `subject` at `issuer` signs in as: found by issuer and subject,
    created on the first sign-in with `username` (from the provider's configured claim)
    and `email`; the email is kept as the provider says. Each sign-in then sets the
    person's role in every project `role_map` names from their `groups`, and removes
    them from a mapped project none of their groups names any more (projects the map
    does not name are left to their admins). Raises `InvalidInput` for a bad claim and
    `Conflict` when the username belongs to another account."""
    errors = {}
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        errors["sub"] = ["The provider sent no usable subject."]
    try:
        username = _clean_username(username)
    except ValueError as exc:
        errors["username"] = [str(exc)]
    email = email if isinstance(email, str) and len(email) <= 254 else ""
    if not isinstance(groups, (list, tuple)):
        groups = [groups] if isinstance(groups, str) else []
    groups = [group for group in groups if isinstance(group, str)]
    if errors:
        raise InvalidInput(errors)
    users = get_user_model().objects
    with transaction.atomic():
        identity = (
            SignInIdentity.objects.select_for_update()
            .select_related("user")
            .filter(issuer=issuer, subject=subject)
            .first()
        )
        if identity is None:
            if users.filter(username__iexact=username).exists():
                raise Conflict(
                    f"The username '{username}' belongs to an account that does not sign in "
                    "with this provider; an administrator can rename one of them."
                )
            user = users.create_user(username, email=email)  # no usable password
            identity = SignInIdentity.objects.create(user=user, issuer=issuer, subject=subject)
            logger.info("single sign-on created the account %s", username)
        else:
            user = identity.user
            if email and user.email != email:
                user.email = email
                user.save(update_fields=["email"])
            identity.last_sign_in_at = timezone.now()
            identity.save(update_fields=["last_sign_in_at"])
        _roles_apply(user, roles_from_groups(groups, role_map), role_map)
    return user


def _roles_apply(user, wanted, role_map):
    mapped = {slug for _, slug, _ in role_map}
    projects = {project.slug: project for project in Project.objects.filter(slug__in=mapped)}
    for slug in sorted(mapped - projects.keys()):
        logger.warning("TUNEBOARD_OIDC_ROLES names the project '%s', which does not exist", slug)
    current = dict(
        Membership.objects.filter(user=user, project__slug__in=mapped).values_list(
            "project__slug", "role"
        )
    )
    for slug, project in sorted(projects.items()):
        role = wanted.get(slug)
        if role is not None and current.get(slug) != role:
            member_set(project=project, username=user.username, role=role)
        elif role is None and slug in current:
            try:
                member_remove(project=project, username=user.username)
            except Conflict:
                # The last admin stays: a project without one could not be managed.
                logger.warning("%s stays the last admin of %s", user.username, slug)
