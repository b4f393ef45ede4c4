"""Job list filters shared by the API (`/api/jobs`) and the dashboard page."""

import django_filters
from django.db.models import Q

from jobs.models import Job, JobStatus
from jobs.query import (
    QuerySyntaxError,
    is_plain_text,
    mentions_archived,
    query_apply,
    query_parse,
    sort_apply,
)


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
        method="filter_search",
        help_text="Text in name, uid, model or dataset; text with an operator is read as a "
        "query (see `query`), and as plain text when it is not a valid one.",
    )
    query = django_filters.CharFilter(
        method="filter_query",
        help_text="The query language (docs/query.md): `status:running lr>=1e-4 "
        "val/loss.min<0.9 (tag:a OR tag:b) -tag:debug name:/sft/`. A syntax error answers "
        '400 `{"query": ["…expected …"], "position": N}`.',
    )
    sort = django_filters.CharFilter(
        method="filter_sort",
        help_text="Any runs-table column (status, name, duration, step, config.<key>, "
        "<metric>.last|min|max…); prefix - for descending; missing values last.",
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

    @property
    def qs(self):
        # Archived jobs leave the default lists; a query naming `archived` (through
        # `query`, or `q` read as a query) keeps them and chooses itself.
        if not hasattr(self, "_qs"):
            queryset = super().qs
            if not any(self._names_archived(self.data.get(key)) for key in ("query", "q")):
                queryset = queryset.filter(archived=False)
            self._qs = queryset
        return self._qs

    @staticmethod
    def _names_archived(text):
        try:
            return bool(text) and mentions_archived(query_parse(text))
        except QuerySyntaxError:
            return False

    def filter_tag(self, queryset, name, value):
        return queryset.filter(tags_text__contains=f",{value},")

    def filter_query(self, queryset, name, value):
        return query_apply(queryset, value)

    def filter_sort(self, queryset, name, value):
        return sort_apply(queryset, value)

    def filter_search(self, queryset, name, value):
        # The dashboard's box: words keep meaning one phrase, as before the query
        # language; anything else that reads as a query is one.
        try:
            tree = query_parse(value)
            if not is_plain_text(tree):
                return query_apply(queryset, value)
        except QuerySyntaxError:
            pass
        return queryset.filter(
            Q(name__icontains=value)
            | Q(uid__icontains=value)
            | Q(base_model__icontains=value)
            | Q(dataset__icontains=value)
        )
