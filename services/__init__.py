"""The services: OCR, parser and scorer, each importing only `selfeval.contract`."""
