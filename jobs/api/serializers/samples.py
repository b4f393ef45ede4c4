"""Bodies, answers and query parameters of the samples and checkpoints endpoints."""

from rest_framework import serializers

from jobs.selectors import SAMPLE_PAGE_DEFAULT, SAMPLE_PAGE_MAX, sample_cursor_parse
from jobs.services import MAX_SAMPLE_META_BYTES, MAX_SAMPLE_TEXT, MAX_SAMPLES_PER_BATCH

from .fields import BatchField, MetricValueField, MetricValueInputField, TimeInputField

# --- writes ---------------------------------------------------------------------------


class SampleInput(serializers.Serializer):
    prompt = serializers.CharField(max_length=MAX_SAMPLE_TEXT, help_text="The fixed prompt.")
    output = serializers.CharField(
        allow_blank=True, max_length=MAX_SAMPLE_TEXT, help_text="What the model generated."
    )
    reference = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=MAX_SAMPLE_TEXT,
        help_text="The expected answer, when there is one.",
    )
    score = serializers.FloatField(required=False, allow_null=True, help_text="Any scalar score.")
    meta = serializers.DictField(
        required=False, help_text=f"Free JSON object, at most {MAX_SAMPLE_META_BYTES} bytes."
    )
    step = serializers.IntegerField(
        required=False, min_value=0, help_text="This sample's step; default: the batch's."
    )
    time = TimeInputField(required=False)


class SamplesBatchInput(serializers.Serializer):
    step = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, help_text="The step of every sample."
    )
    samples = BatchField(
        item_serializer=SampleInput,
        max_length=MAX_SAMPLES_PER_BATCH,
        help_text=f"Up to {MAX_SAMPLES_PER_BATCH} samples, stored together or not at all. "
        f"Prompt, output and reference: at most {MAX_SAMPLE_TEXT} characters each. A "
        "(prompt, step) the job already has is ignored: samples are never overwritten.",
    )


class SamplesAcceptedOutput(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="Samples stored.")
    ignored = serializers.IntegerField(help_text="Samples the job already had (re-sends).")


class CheckpointInput(serializers.Serializer):
    step = serializers.IntegerField(min_value=0)
    path = serializers.CharField(max_length=1024, help_text="Where the checkpoint was saved.")
    size = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, help_text="Bytes on disk."
    )
    metrics = serializers.DictField(
        child=MetricValueInputField(),
        required=False,
        allow_null=True,
        help_text="Evaluation metrics at this step, `{key: number}`.",
    )
    time = TimeInputField(required=False)


# --- reads ----------------------------------------------------------------------------


class SampleOutput(serializers.Serializer):
    id = serializers.IntegerField()
    prompt = serializers.CharField()
    prompt_hash = serializers.CharField(help_text="Key of the prompt (`prompt_hash=`).")
    step = serializers.IntegerField()
    output = serializers.CharField()
    reference = serializers.CharField(allow_null=True)
    score = MetricValueField(allow_null=True)
    meta = serializers.DictField()
    time = serializers.DateTimeField()


class SamplePageOutput(serializers.Serializer):
    job = serializers.CharField()
    results = SampleOutput(many=True)
    next = serializers.CharField(
        allow_null=True, help_text="URL of the next page; null on the last one."
    )
    last_step = serializers.IntegerField(
        allow_null=True, help_text="Step of the last sample returned: poll with since_step."
    )


class SamplePromptOutput(serializers.Serializer):
    prompt_hash = serializers.CharField()
    prompt = serializers.CharField(help_text="The first 200 characters.")
    prompt_chars = serializers.IntegerField()
    samples = serializers.IntegerField()
    first_step = serializers.IntegerField()
    last_step = serializers.IntegerField()
    scored = serializers.BooleanField()
    has_reference = serializers.BooleanField()


class SamplePromptsOutput(serializers.Serializer):
    job = serializers.CharField()
    prompts = SamplePromptOutput(many=True)
    steps = serializers.ListField(child=serializers.IntegerField())
    truncated = serializers.BooleanField(help_text="More prompts than listed (1000).")


class SampleScoresOutput(serializers.Serializer):
    job = serializers.CharField()
    scores = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField()),
        help_text="[[step, mean score of the step's scored samples]] in step order",
    )


class CheckpointOutput(serializers.Serializer):
    step = serializers.IntegerField()
    path = serializers.CharField()
    size = serializers.IntegerField(allow_null=True)
    metrics = serializers.DictField(child=MetricValueField())
    time = serializers.DateTimeField()


class SamplesQuery(serializers.Serializer):
    prompt = serializers.CharField(
        required=False, trim_whitespace=False, help_text="Exact prompt text."
    )
    prompt_hash = serializers.RegexField(
        r"^[0-9a-f]{32}$", required=False, help_text="A prompt's key, as samples carry it."
    )
    step = serializers.IntegerField(required=False, min_value=0, help_text="Only this step.")
    since_step = serializers.IntegerField(
        required=False, help_text="Only steps after this one (live reads)."
    )
    cursor = serializers.CharField(required=False, help_text="From a `next` link.")
    limit = serializers.IntegerField(
        required=False,
        default=SAMPLE_PAGE_DEFAULT,
        min_value=1,
        help_text=f"Samples per page (default {SAMPLE_PAGE_DEFAULT}, at most {SAMPLE_PAGE_MAX}).",
    )

    def validate_cursor(self, value):
        try:
            return sample_cursor_parse(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate_limit(self, value):
        return min(value, SAMPLE_PAGE_MAX)


class SamplesExportQuery(serializers.Serializer):
    format = serializers.ChoiceField(choices=["csv", "json"], default="json", required=False)
