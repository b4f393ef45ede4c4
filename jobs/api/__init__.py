"""Everything DRF: parsers, authentication, permissions, serializers, views, urls, schema."""
