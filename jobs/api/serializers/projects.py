"""Bodies and answers of the projects API."""

from rest_framework import serializers

from jobs.models import Role


class ProjectInput(serializers.Serializer):
    name = serializers.CharField(max_length=100, help_text="Shown in the project switcher.")
    slug = serializers.SlugField(
        required=False, max_length=64, help_text="URL name; made from the name if absent."
    )


class ProjectOutput(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()
    role = serializers.ChoiceField(choices=Role.choices, help_text="Your role in it.")
    created_at = serializers.DateTimeField()


class MemberInput(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)


class MemberOutput(serializers.Serializer):
    username = serializers.CharField()
    role = serializers.ChoiceField(choices=Role.choices)
    created_at = serializers.DateTimeField()
