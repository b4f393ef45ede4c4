"""Single sign-on's accounts and roles (`services.sign_in_identity_user`): the account a
provider's person signs in as, and the project roles their groups give on each sign-in."""

import pytest

from jobs import services
from jobs.models import AuditEvent, Membership, Role
from tests.factories import make_user

pytestmark = pytest.mark.django_db

ISSUER = "https://id.example.test"
ROLE_MAP = [
    ("ml-team", "alpha", "editor"),
    ("ml-leads", "alpha", "admin"),
    ("vision", "beta", "viewer"),
]


@pytest.fixture
def projects():
    return {
        "alpha": services.project_create(name="Alpha"),
        "beta": services.project_create(name="Beta"),
        "gamma": services.project_create(name="Gamma"),
    }


def sign_in(groups, *, subject="s-1", username="ada", email="ada@example.test"):
    return services.sign_in_identity_user(
        issuer=ISSUER,
        subject=subject,
        username=username,
        email=email,
        groups=groups,
        role_map=ROLE_MAP,
    )


def roles(user):
    return dict(Membership.objects.filter(user=user).values_list("project__slug", "role"))


def test_the_first_sign_in_creates_an_account_without_a_password(projects):
    user = sign_in(["ml-team"])
    assert user.username == "ada" and user.email == "ada@example.test"
    assert not user.has_usable_password()
    assert roles(user) == {"alpha": Role.EDITOR}


def test_the_highest_role_of_several_groups_wins(projects):
    assert roles(sign_in(["ml-team", "ml-leads", "vision"])) == {
        "alpha": Role.ADMIN,
        "beta": Role.VIEWER,
    }


def test_a_later_sign_in_finds_the_account_by_subject_and_updates_roles_and_email(projects):
    first = sign_in(["ml-team"])
    again = sign_in(["vision"], username="ada-renamed", email="ada@new.example.test")
    assert again.pk == first.pk and again.username == "ada"
    assert again.email == "ada@new.example.test"
    assert roles(again) == {"beta": Role.VIEWER}
    actions = list(AuditEvent.objects.filter(action__startswith="member.").values_list("action"))
    assert ("member.remove",) in actions and ("member.set",) in actions


def test_projects_the_map_does_not_name_are_left_to_their_admins(projects):
    user = sign_in(["ml-team"])
    services.member_set(project=projects["gamma"], username="ada", role=Role.EDITOR)
    sign_in([])
    assert roles(user) == {"gamma": Role.EDITOR}


def test_a_username_of_an_existing_local_account_is_refused_not_taken_over(projects):
    make_user("ada")
    with pytest.raises(services.Conflict):
        sign_in(["ml-leads"])
    assert not Membership.objects.filter(user__username="ada", project__slug="alpha").exists()


def test_a_missing_username_claim_is_refused_naming_it(projects):
    with pytest.raises(services.InvalidInput) as caught:
        sign_in(["ml-team"], username=None)
    assert "username" in caught.value.detail
