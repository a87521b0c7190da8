"""The small shared core: config, storage, outbox, auth, audit, i18n and the web shell."""
