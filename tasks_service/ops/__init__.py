"""What an operator sees of the running service: the doctor's checks (``ops.doctor``)
and the operator page's overview (``ops.overview``)."""
