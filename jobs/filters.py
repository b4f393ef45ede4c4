"""Job list filters shared by the API (`/api/jobs`) and the dashboard page."""

import django_filters
from django.db.models import Q

from jobs.models import Job, JobStatus


class StableOrderingFilter(django_filters.OrderingFilter):
    """Ordering with the id as last key, so pages never repeat or skip equal rows."""

    def filter(self, qs, value):
        # Blank entries ("?ordering=,,") mean nothing, as an absent parameter does.
        value = [param for param in value or () if param and param.strip("-")]
        if not value:
            return qs
        ordering = [self.get_ordering_value(param) for param in value]
        return qs.order_by(*ordering, "-id")


class JobFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(
        choices=JobStatus.choices, help_text="Repeat for several: ?status=running&status=queued"
    )
    model = django_filters.CharFilter(field_name="base_model", help_text="Exact base model.")
    dataset = django_filters.CharFilter(help_text="Exact dataset.")
    tag = django_filters.CharFilter(method="filter_tag", help_text="Jobs carrying this tag.")
    project = django_filters.CharFilter(
        field_name="project__slug", help_text="Jobs of this project (its slug)."
    )
    q = django_filters.CharFilter(
        method="filter_search", help_text="Text in name, uid, model or dataset."
    )
    signature = django_filters.CharFilter(
        field_name="failure_signature",
        help_text="Failed jobs with this failure signature (exact, as the dashboard's top "
        "failure causes list it).",
    )
    ordering = StableOrderingFilter(
        fields=["created_at", "started_at", "finished_at", "progress", "name", "status"],
        help_text="created_at, started_at, finished_at, progress, name or status; "
        "prefix - for descending.",
    )

    class Meta:
        model = Job
        fields = []

    def filter_tag(self, queryset, name, value):
        return queryset.filter(tags_text__contains=f",{value},")

    def filter_search(self, queryset, name, value):
        return queryset.filter(
            Q(name__icontains=value)
            | Q(uid__icontains=value)
            | Q(base_model__icontains=value)
            | Q(dataset__icontains=value)
        )
