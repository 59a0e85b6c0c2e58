"""The Harmony Board's drawing: the melody DAG laid out in cells (:mod:`.layout`) and the
widget that draws it with live step states (:mod:`.canvas`)."""
