"""The critic Q(s, a), beside the layers: it uses agent (the trajectory schema) and envs only.

protocol, errors, config, factory, cli     the seam search uses, its errors, configs, `--critic` specs
serialize, model                           trajectory -> tokens; the value model (a LM + value head)
data/     where training data comes from   (run folders, nebius, prepared windows, synthetic)
train/    `critic train`                   (loop, TD(lambda) targets, resume, metrics)
serve/    `critic serve`                   (HTTP server, batched scoring)
clients/  critics that search calls        (HTTP/local, vLLM)
"""
