"""enrich: ``news.articles`` → ``news.enriched``. Topic tags and sentiment."""
