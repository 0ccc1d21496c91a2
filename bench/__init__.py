"""The benchmark (`python -m bench`): what an audit costs at metastore scale, beside per-object crawling."""
