"""ingest: ``news.raw`` → ``news.articles``. Parses scraped payloads into normalised articles."""
