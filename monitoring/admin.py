from django.contrib import admin

from .models import ResourceSample


@admin.register(ResourceSample)
class ResourceSampleAdmin(admin.ModelAdmin):
    list_display = ("host", "time", "job", "resolution", "cpu_percent", "ram_used", "gpu_util")
    list_filter = ("resolution", "host")
    raw_id_fields = ("job",)
    list_select_related = ("job",)
    search_fields = ("host", "job__uid")
    date_hierarchy = "time"
    list_per_page = 100
    show_full_result_count = False
    ordering = ("-time",)

    @admin.display(description="GPU util")
    def gpu_util(self, sample):
        values = [g.get("util") for g in sample.gpus or [] if g.get("util") is not None]
        return " / ".join(f"{v:.0f}%" for v in values) or "—"
