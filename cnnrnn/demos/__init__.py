"""Generated demo data, so that every application runs offline on a fresh machine.

One module per application, named like its module in `cnnrnn.apps` (e.g.
`cnnrnn.demos.plant_classifier` holds `write_plant_demo`), which its `APP` row
names as `write_demo_data`. `cnnrnn.demos.common` holds what the writers share
(the cache folder, atomic writes into it, drawing helpers) and names no
application.
"""
