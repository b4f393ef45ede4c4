"""How static files are stored when collected: hashed names, gzip and brotli beside them.

`collectstatic` (run by `make run`) writes each file under a name carrying a hash of
its content, rewrites the references between files to those names (CSS `url()`, and
the ES module imports of `static/js/`), and WhiteNoise writes `.gz` and `.br` copies.
WhiteNoise then serves a hashed name with `Cache-Control: max-age=…, immutable`.
"""

import brotli
from whitenoise.compress import Compressor
from whitenoise.storage import CompressedManifestStaticFilesStorage

# Brotli's best quality (11) is worth its time on the pages' own assets and Chart.js
# (at most a few hundred ms each) but takes seconds per MB; the API docs' megabyte
# bundles and source maps get quality 9: 30 times faster, under 10 % larger.
BROTLI_BEST_QUALITY_MAX_BYTES = 256 * 1024


class StaticCompressor(Compressor):
    @staticmethod
    def compress_brotli(data):
        quality = 11 if len(data) <= BROTLI_BEST_QUALITY_MAX_BYTES else 9
        return brotli.compress(data, quality=quality)


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """Hashed, compressed static files; unhashed names where nothing was collected.

    The pages' modules import each other by relative path (`../lib/live.js`). Without
    rewriting those imports a page would load one module twice, once under its hashed
    name (the template's `modulepreload`) and once under the plain one, each with its
    own state; `support_js_module_import_aggregation` rewrites them.

    A name missing from the manifest (no `collectstatic` yet: a fresh clone's tests, a
    development server) is served under its plain name, found in `static/` by
    WhiteNoise's finders, instead of failing the page.
    """

    support_js_module_import_aggregation = True
    manifest_strict = False
    # Without the `//# sourceMappingURL=` rewrite for scripts: vendored Chart.js names a
    # map it does not ship, which would fail `collectstatic`; maps only serve devtools.
    patterns = tuple(
        (glob, rules)
        for glob, rules in CompressedManifestStaticFilesStorage.patterns
        if glob != "*.js"
    )

    def stored_name(self, name):
        try:
            return super().stored_name(name)
        except ValueError:
            return name

    def create_compressor(self, **kwargs):
        return StaticCompressor(**kwargs)

    def compress_files(self, paths):
        """Compress the hashed copies only: pages name no other once files are collected."""
        hashed = set(self.hashed_files.values())
        return super().compress_files([path for path in paths if path in hashed])
