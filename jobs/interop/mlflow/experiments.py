"""MLflow experiments, answered from Tuneboard's projects."""

from jobs import services
from jobs.core.validation import InvalidInput
from jobs.interop.mlflow_search import SearchSyntaxError, parse_filter
from jobs.models import Project, Role

from .common import (
    MlflowError,
    default_project_pk,
    experiment_id_of,
    experiment_payload,
    experiment_project,
    integer,
    invalid_input_message,
    page_token_decode,
    page_token_encode,
    required,
)

# --- experiments -------------------------------------------------------------------------


def experiments_create(caller, data):
    caller.require_write()
    name = required(data, "name")
    if Project.objects.filter(name=name).exists():
        raise MlflowError(f"Experiment '{name}' already exists.", "RESOURCE_ALREADY_EXISTS")
    if caller.token.projects.exists():
        raise MlflowError(
            "This token is limited to its projects and cannot create an experiment; create "
            f"the project '{name}' in Tuneboard and add it to the token, or use a token "
            "that names no project.",
            "PERMISSION_DENIED",
        )
    try:
        project = services.project_create(name=name, creator=caller.user)
    except InvalidInput as exc:
        raise MlflowError(invalid_input_message(exc.detail))
    return {"experiment_id": experiment_id_of(project.pk, default_project_pk())}


def experiments_get(caller, data):
    project = experiment_project(caller, required(data, "experiment_id"))
    return {"experiment": experiment_payload(project, default_project_pk())}


def experiment_by_name(caller, name):
    projects = caller.projects
    candidates = Project.objects.filter(name=name)
    if projects is not None:
        candidates = candidates.filter(pk__in=projects)
    return candidates.order_by("pk").first()


def experiments_get_by_name(caller, data):
    name = required(data, "experiment_name")
    project = experiment_by_name(caller, name)
    if project is None:
        raise MlflowError(
            f"Could not find experiment with name '{name}'", "RESOURCE_DOES_NOT_EXIST"
        )
    return {"experiment": experiment_payload(project, default_project_pk())}


def experiments_search(caller, data):
    view_type = str(data.get("view_type") or "ACTIVE_ONLY")
    max_results = integer(data.get("max_results"), "max_results", default=1000, minimum=1)
    offset = page_token_decode(data.get("page_token"))
    try:
        comparisons = parse_filter(data.get("filter"))
    except SearchSyntaxError as exc:
        raise MlflowError(f"Invalid filter: {exc}")
    projects = caller.projects
    candidates = Project.objects.all()
    if projects is not None:
        candidates = candidates.filter(pk__in=projects)
    default_id = default_project_pk()
    found = []
    if view_type in ("ACTIVE_ONLY", "ALL", "1", "3"):
        for project in candidates.order_by("pk"):
            values = {("attributes", "name"): project.name}
            if all(c.matches(values.get((c.entity, c.key))) for c in comparisons):
                found.append(experiment_payload(project, default_id))
    page = found[offset : offset + max_results]
    response = {"experiments": page}
    if offset + max_results < len(found):
        response["next_page_token"] = page_token_encode(offset + max_results)
    return response


def experiments_update(caller, data):
    project = experiment_project(caller, required(data, "experiment_id"), minimum=Role.ADMIN)
    caller.require_write()
    new_name = data.get("new_name")
    if new_name:
        if Project.objects.filter(name=new_name).exclude(pk=project.pk).exists():
            raise MlflowError(f"Experiment '{new_name}' already exists.", "RESOURCE_ALREADY_EXISTS")
        try:
            services.project_rename(project=project, name=new_name)
        except InvalidInput as exc:
            raise MlflowError(invalid_input_message(exc.detail))
    return {}


def experiments_set_tag(caller, data):
    """Accepted and not kept: Tuneboard's projects have no tags (docs/mlflow.md)."""
    experiment_project(caller, required(data, "experiment_id"), minimum=Role.EDITOR)
    caller.require_write()
    return {}


def experiments_not_supported(caller, data):
    raise MlflowError(
        "Tuneboard does not delete or restore projects through the MLflow API; manage "
        "projects in Tuneboard.",
        "NOT_IMPLEMENTED",
    )
