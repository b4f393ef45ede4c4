"""Bodies and answers of the saved views API."""

from rest_framework import serializers


class SavedViewInput(serializers.Serializer):
    name = serializers.CharField(
        max_length=100,
        help_text="Unique per user; saving a name you already use replaces that view.",
    )
    query = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2000,
        trim_whitespace=True,
        help_text="The query language (docs/query.md).",
    )
    columns = serializers.ListField(
        child=serializers.CharField(max_length=200),
        required=False,
        max_length=60,
        help_text='Column names: "status", "config.lr", "val/loss.min", …',
    )
    sort = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text="A column, - for descending."
    )
    group_by = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text="A column to group rows by."
    )


class SavedViewOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    query = serializers.CharField()
    columns = serializers.ListField(child=serializers.CharField())
    sort = serializers.CharField()
    group_by = serializers.CharField()
    url = serializers.CharField(help_text="The runs table showing this view.")
    created_at = serializers.DateTimeField()
