"""Clustering, visualisation and dimensionality reduction from genomaps (the reference's
genoVis / genoDR idea, ConvIDEC, in PyTorch): a convolutional autoencoder pretrained on the
genomaps, then deep embedded clustering (a Student-t soft assignment sharpened towards its own
target distribution) trained jointly with the reconstruction loss (IDEC)."""
from __future__ import annotations

import numpy as np

from .._validate import check_int, check_number
from .base import GenomapCNN

ARCHITECTURES = ("reference", "compact")


def _same_padding(size, kernel, stride):
    """TensorFlow's 'same' padding (before, after) of one dimension: output ceil(size / stride)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _modules():
    import torch
    from torch import nn

    from .layers import PhaseConvTranspose2d

    class CompactAutoencoder(nn.Module):
        """3x3 convolutions throughout (``architecture="compact"``)."""

        def __init__(self, rows, cols, n_dim, filters=(32, 64, 128)):
            super().__init__()
            self.rows, self.cols = rows, cols
            layers, c = [], 1
            for f in filters:
                layers += [nn.Conv2d(c, f, 3, stride=2, padding=1), nn.ReLU()]
                c = f
            self.encoder = nn.Sequential(*layers)
            with torch.no_grad():
                shape = self.encoder(torch.zeros(1, 1, rows, cols)).shape[1:]
            self.shape = tuple(shape)
            flat = int(np.prod(shape))
            self.embed = nn.Linear(flat, n_dim)
            self.unembed = nn.Linear(n_dim, flat)
            dec, c = [], filters[-1]
            for f in list(filters[-2::-1]) + [16]:
                dec += [nn.ConvTranspose2d(c, f, 3, stride=2, padding=1, output_padding=1),
                        nn.ReLU()]
                c = f
            dec += [nn.Conv2d(c, 1, 3, padding=1)]
            self.decoder = nn.Sequential(*dec)

        def encode(self, x):
            return self.embed(self.encoder(x).flatten(1))

        def decode(self, z):
            y = self.decoder(torch.relu(self.unembed(z)).view(-1, *self.shape))
            return nn.functional.interpolate(y, size=(self.rows, self.cols), mode="bilinear",
                                             align_corners=False)

    class ReferenceAutoencoder(nn.Module):
        """The reference's ConvIDEC autoencoder (genomap 1.3.6, after Guo et al. 2017):
        convolutions of 15x15, 5x5 and 3x3 pixels with stride 2 (TensorFlow 'same' padding, the
        last 'valid' unless both sides divide by 8), a linear embedding, a dense layer back to
        the last feature map, transposed convolutions of 3, 5 and 5 pixels; Glorot-uniform
        weights and zero biases as in Keras. Any grid shape (the reference: square only)."""

        def __init__(self, rows, cols, n_dim, filters=(32, 64, 128)):
            super().__init__()
            self.rows, self.cols = rows, cols
            kernels = (15, 5, 3)
            # 'valid' last convolution as in the reference, unless its input is smaller than
            # the kernel (tiny grids)
            h4, w4 = -(-rows // 4), -(-cols // 4)
            valid_last = bool(rows % 8 or cols % 8) and min(h4, w4) >= kernels[-1]
            self.convs, self.pads = nn.ModuleList(), []
            h, w, c = rows, cols, 1
            for i, (f, k) in enumerate(zip(filters, kernels)):
                if valid_last and i == len(filters) - 1:
                    pad = (0, 0, 0, 0)
                    h, w = (h - k) // 2 + 1, (w - k) // 2 + 1
                else:
                    pad = (*_same_padding(w, k, 2), *_same_padding(h, k, 2))
                    h, w = -(-h // 2), -(-w // 2)
                self.pads.append(pad)
                self.convs.append(nn.Conv2d(c, f, k, stride=2))
                c = f
            self.shape = (c, h, w)
            self.embed = nn.Linear(c * h * w, n_dim)
            self.unembed = nn.Linear(n_dim, c * h * w)
            dec = []
            for i, (f, k) in enumerate(zip(list(filters[-2::-1]) + [1], kernels[::-1])):
                if valid_last and i == 0:
                    dec.append(PhaseConvTranspose2d(c, f, k, stride=2))
                else:  # 'same': output = 2 x input
                    p = (k - 1) // 2
                    dec.append(PhaseConvTranspose2d(c, f, k, stride=2, padding=p,
                                                    output_padding=2 - k + 2 * p))
                if f != 1:
                    dec.append(nn.ReLU())
                c = f
            self.decoder = nn.Sequential(*dec)
            for m in self.modules():  # (PhaseConvTranspose2d is an nn.ConvTranspose2d)
                if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                    nn.init.xavier_uniform_(m.weight)
                    nn.init.zeros_(m.bias)

        def encode(self, x):
            for pad, conv in zip(self.pads, self.convs):
                x = torch.relu(conv(nn.functional.pad(x, pad)))
            return self.embed(x.flatten(1))

        def decode(self, z):
            y = self.decoder(torch.relu(self.unembed(z)).view(-1, *self.shape))
            if tuple(y.shape[-2:]) != (self.rows, self.cols):
                y = nn.functional.interpolate(y, size=(self.rows, self.cols), mode="bilinear",
                                              align_corners=False)
            return y

    def ConvAutoencoder(rows, cols, n_dim, architecture="reference"):
        """(batch, 1, rows, cols) -> (batch, n_dim) -> (batch, 1, rows, cols)."""
        if architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got "
                             f"{architecture!r}")
        cls = ReferenceAutoencoder if architecture == "reference" else CompactAutoencoder
        return cls(rows, cols, n_dim)

    return torch, ConvAutoencoder


def _soft_assign(torch, z, centres):
    q = 1.0 / (1.0 + torch.cdist(z, centres) ** 2)
    return q / q.sum(dim=1, keepdim=True)


def estimate_n_clusters(features: np.ndarray, n_neighbors: int = 15, seed: int = 0,
                        resolution: float = 1.0) -> tuple[int, np.ndarray]:
    """Louvain communities of a kNN graph of ``features``: the number of clusters and labels.

    Parameters
    ----------
    features : numpy.ndarray of shape (n, d)
        One row per cell.
    n_neighbors : int, default 15
        Neighbours per cell in the graph.
    seed : int, default 0
        Seed of the Louvain method.
    resolution : float, default 1.0
        Louvain resolution (higher: more communities).

    Returns
    -------
    n_clusters : int
        Number of communities.
    labels : numpy.ndarray of shape (n,)
        int64 community of each row, numbered by their first member.

    Examples
    --------
    >>> from genomap_fast.cnn import estimate_n_clusters
    >>> from genomap_fast.datasets import synthetic_counts
    >>> X, _ = synthetic_counts(n_cells=100, n_genes=40, n_types=3, seed=0)
    >>> k, labels = estimate_n_clusters(X)
    >>> labels.shape, labels.dtype, bool(k == labels.max() + 1)
    ((100,), dtype('int64'), True)
    """
    import networkx as nx
    from sklearn.neighbors import NearestNeighbors

    n = len(features)
    if n == 0:
        raise ValueError("estimate_n_clusters needs at least 1 row, got 0")
    if n == 1:
        return 1, np.zeros(1, dtype=np.int64)
    # kneighbors() leaves each row itself out, so row[1:] below starts at the second
    # nearest; with fewer rows than n_neighbors + 2, every other row
    k = min(n_neighbors + 1, n - 1)
    nn_idx = NearestNeighbors(n_neighbors=k).fit(features).kneighbors(return_distance=False)
    g = nx.Graph()
    g.add_nodes_from(range(len(features)))
    g.add_edges_from((i, int(j)) for i, row in enumerate(nn_idx) for j in row[1:] if i != j)
    communities = nx.community.louvain_communities(g, resolution=resolution, seed=seed)
    labels = np.empty(len(features), dtype=np.int64)
    for c, members in enumerate(sorted(communities, key=lambda m: min(m))):
        labels[list(members)] = c
    return len(communities), labels


class _ImageSource:
    """Standardised genomaps of the cells of a row source by index (a torch index tensor): all
    rasterised once when they fit in ``max_image_bytes``, else rasterised per batch on demand."""

    def __init__(self, dec, src):
        import torch

        self.dec, self.src, self.n = dec, src, src.shape[0]
        small = self.n * dec.rows * dec.cols * 4 <= dec.max_image_bytes
        self.all = torch.from_numpy(dec.images(src)) if small else None

    def __len__(self):
        return self.n

    def __getitem__(self, idx):
        import torch

        if self.all is not None:
            return self.all[idx]
        idx = idx.numpy()
        order = np.argsort(idx, kind="stable")
        images = np.empty((idx.size, 1, self.dec.rows, self.dec.cols), dtype=np.float32)
        images[order] = self.dec.images(self.src.take(idx[order]))
        return torch.from_numpy(images)


class GenoDEC(GenomapCNN):
    """Deep embedded clustering of cells from their genomaps (the reference's ConvIDEC).

    A convolutional autoencoder is pretrained on the standardised genomaps, then a Student-t
    soft assignment to cluster centres is sharpened towards its own target distribution,
    jointly with the reconstruction loss. ``fit(X)`` takes any input
    :meth:`genomap_fast.Genomap.fit` accepts.

    Parameters
    ----------
    rows, cols : int
        Grid shape of the genomaps.
    n_clusters : int or None
        Number of clusters; None estimates it with Louvain on a kNN graph of the placed genes'
        z-scores (:func:`estimate_n_clusters`).
    n_dim : int
        Size of the learned features.
    pretrain_epochs : int
        Autoencoder pretraining epochs.
    maxiter : int
        Cap on the clustering batches.
    update_interval : int
        Clustering batches between target-distribution updates.
    batch_size : int
        Cells per batch.
    gamma : float
        Weight of the clustering loss against the reconstruction loss.
    lr : float
        Adam's learning rate.
    seed : int
        Seed of the weights, batches and k-means.
    device : str, optional
        torch device; default: CUDA when torch has it, else the CPU.
    progress : bool
        Show progress bars.
    select_genes, grid_metric, max_image_bytes, num_threads, genomap
        As for :class:`GenoNetClassifier`.
    architecture : str
        "reference" (the reference's ConvIDEC autoencoder, 15/5/3-pixel kernels) or
        "compact" (3x3 kernels).
    tol : float
        The clustering stage stops once fewer than this fraction of cells change cluster
        between target updates (the reference's rule; 0 runs ``maxiter`` batches).

    Attributes
    ----------
    labels_ : numpy.ndarray of shape (n_cells,)
        int64 cluster of each fit cell.
    features_ : numpy.ndarray of shape (n_cells, n_dim)
        float32 learned features of the fit cells.
    n_clusters_ : int
        Number of clusters.
    n_iter_ : int
        Clustering batches run.

    Raises
    ------
    ValueError
        ``n_clusters < 1``, ``n_dim``, ``update_interval`` or ``batch_size`` < 1, negative
        ``pretrain_epochs`` or ``maxiter``, a negative, NaN or infinite ``tol`` or ``gamma``,
        ``lr`` not > 0, an unknown ``architecture``; at ``fit``, fewer than 3 cells or more
        clusters than cells.
    TypeError
        A count that is not an integer or a rate that is not a number.

    Examples
    --------
    >>> from genomap_fast.cnn import GenoDEC
    >>> from genomap_fast.datasets import synthetic_counts
    >>> X, _ = synthetic_counts(n_cells=60, n_genes=64, n_types=3, seed=0)
    >>> dec = GenoDEC(8, 8, n_clusters=3, pretrain_epochs=1, maxiter=2).fit(X)
    >>> dec.labels_.shape, dec.features_.shape, dec.features_.dtype
    ((60,), (60, 32), dtype('float32'))
    >>> dec.transform(X[:5]).shape, dec.predict(X[:5]).shape
    ((5, 32), (5,))
    """

    _format = "genomap_fast.GenoDEC/1"
    _param_names = ("rows", "cols", "n_clusters", "n_dim", "pretrain_epochs", "maxiter",
                    "update_interval", "batch_size", "gamma", "lr", "seed", "device",
                    "progress", "select_genes", "grid_metric", "max_image_bytes",
                    "num_threads", "genomap", "architecture", "tol")

    def __init__(self, rows: int = 32, cols: int = 32, n_clusters: int | None = None,
                 n_dim: int = 32, pretrain_epochs: int = 100, maxiter: int = 300,
                 update_interval: int = 50, batch_size: int = 64, gamma: float = 0.1,
                 lr: float = 1e-3, seed: int = 0, device: str | None = None,
                 progress: bool = False, select_genes: str | None = "variance",
                 grid_metric: str = "radial", max_image_bytes: int = 1 << 30,
                 num_threads: int | None = None, genomap=None, architecture: str = "reference",
                 tol: float = 1e-3):
        if architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got "
                             f"{architecture!r}")
        self.architecture, self.tol = architecture, check_number(tol, "tol")
        self._init_genomap(genomap, rows, cols, grid_metric, select_genes, num_threads,
                           max_image_bytes)
        self.n_clusters = None if n_clusters is None else check_int(n_clusters, "n_clusters", 1)
        self.n_dim = check_int(n_dim, "n_dim", 1)
        self.pretrain_epochs = check_int(pretrain_epochs, "pretrain_epochs", 0)
        self.maxiter = check_int(maxiter, "maxiter", 0)
        self.update_interval = check_int(update_interval, "update_interval", 1)
        self.batch_size = check_int(batch_size, "batch_size", 1)
        self.gamma, self.lr = check_number(gamma, "gamma"), check_number(lr, "lr", strict=True)
        self.seed, self.device, self.progress = int(seed), device, progress

    def _zscores(self, src, rows):
        """(len(rows), n_placed) float64 z-scores of the placed genes of some cells."""
        gm = self.genomap_
        sub = src.take(rows)[:, gm.genes_]
        sub = np.asarray(sub.toarray() if hasattr(sub, "toarray") else sub, dtype=np.float64)
        return (sub - gm.mean_) / gm.scale_

    def fit(self, X, y=None) -> GenoDEC:
        """Fits the placement and z-scores, pretrains the autoencoder, then clusters.

        Parameters
        ----------
        X : array-like, AnnData or str
            Cells x genes, any input :meth:`genomap_fast.Genomap.fit` accepts.
        y : None
            Ignored.

        Returns
        -------
        GenoDEC
            self, fitted.
        """
        from sklearn.cluster import KMeans

        from .._progress import progress_bar
        from .training import deterministic, device_for

        src = self._source(X)
        n = src.shape[0]
        if n < 3:
            raise ValueError(f"clustering needs at least 3 cells, got {n}")
        torch, ConvAutoencoder = _modules()
        self._fit_genomap(src)
        images = _ImageSource(self, src)
        k = self.n_clusters
        if k is None:  # Louvain on z-scored genes (a seeded subsample of 20,000 cells at most)
            rows = np.sort(np.random.default_rng(self.seed).choice(n, min(n, 20000), False))
            k, _ = estimate_n_clusters(self._zscores(src, rows), seed=self.seed)
        if k > n:
            raise ValueError(f"n_clusters={k} is more than the {n} cells")
        self.device_ = device_for(self.device)
        with deterministic(self.seed) as gen:
            model = ConvAutoencoder(self.rows, self.cols, self.n_dim, self.architecture).to(
                self.device_)
            opt = torch.optim.Adam(model.parameters(), lr=self.lr)
            bar = progress_bar(range(self.pretrain_epochs), desc="autoencoder",
                               disable=not self.progress)
            for _ in bar:  # pretraining: reconstruction only
                model.train()
                for idx in torch.randperm(n, generator=gen).split(self.batch_size):
                    xb = images[idx].to(self.device_)
                    loss = torch.nn.functional.mse_loss(model.decode(model.encode(xb)), xb)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
            z = self._encode(model, images)
            km = KMeans(n_clusters=k, n_init=20, random_state=self.seed).fit(z)
            centres = torch.nn.Parameter(torch.from_numpy(km.cluster_centers_.astype(np.float32))
                                         .to(self.device_))
            opt = torch.optim.Adam(list(model.parameters()) + [centres], lr=self.lr)
            order = torch.randperm(n, generator=gen)
            pos, last = 0, torch.from_numpy(km.labels_.astype(np.int64)).to(self.device_)
            self.n_iter_ = self.maxiter
            for it in progress_bar(range(self.maxiter), desc="clustering",
                                   disable=not self.progress):
                if it % self.update_interval == 0:  # sharpened target distribution
                    with torch.no_grad():
                        q = _soft_assign(torch, torch.from_numpy(self._encode(model, images))
                                         .to(self.device_), centres)
                        p = q**2 / q.sum(0)
                        p = (p / p.sum(1, keepdim=True)).detach()
                        labels = q.argmax(1)
                        changed = float((labels != last).float().mean())
                        last = labels
                    if it > 0 and changed < self.tol:  # the reference's stopping rule
                        self.n_iter_ = it
                        break
                if pos >= n:
                    order, pos = torch.randperm(n, generator=gen), 0
                idx = order[pos : pos + self.batch_size]
                pos += self.batch_size
                model.train()
                xb = images[idx].to(self.device_)
                zb = model.encode(xb)
                qb = _soft_assign(torch, zb, centres)
                kld = torch.nn.functional.kl_div(qb.log(), p[idx], reduction="batchmean")
                loss = self.gamma * kld + torch.nn.functional.mse_loss(model.decode(zb), xb)
                opt.zero_grad()
                loss.backward()
                opt.step()
        self.model_, self.centres_ = model, centres.detach()
        self.features_ = self._encode(model, images)
        self.labels_ = self._assign(self.features_)
        self.n_clusters_ = k
        return self

    def _encode(self, model, images):
        import torch

        from .training import training_threads

        model.eval()
        with torch.no_grad(), training_threads():
            return np.concatenate([
                model.encode(images[torch.arange(i, min(i + 1024, len(images)))]
                             .to(self.device_)).cpu().numpy()
                for i in range(0, len(images), 1024)])

    def _assign(self, features):
        import torch

        from .training import training_threads

        with training_threads():
            q = _soft_assign(torch, torch.from_numpy(features).to(self.device_), self.centres_)
        return q.argmax(1).cpu().numpy().astype(np.int64)

    def transform(self, X) -> np.ndarray:
        """Learned features of the cells of X.

        Returns
        -------
        numpy.ndarray of shape (n_cells, n_dim)
            float32 features.
        """
        self._check_fitted()
        return self._encode(self.model_, _ImageSource(self, self._source(X)))

    def predict(self, X) -> np.ndarray:
        """Cluster of the cells of X: (n_cells,) int64."""
        return self._assign(self.transform(X))

    # --------------------------------------------------------- persistence
    def _build_model(self, state):
        _, ConvAutoencoder = _modules()
        return ConvAutoencoder(self.rows, self.cols, self.n_dim, self.architecture)

    def _extra_state(self):
        import torch

        return {"centres": self.centres_.cpu(), "n_clusters": int(self.n_clusters_),
                "labels": torch.from_numpy(self.labels_),
                "features": torch.from_numpy(np.ascontiguousarray(self.features_))}

    def _load_extra(self, state):
        self.centres_ = state["centres"].to(self.device_)
        self.n_clusters_ = int(state["n_clusters"])
        self.labels_ = state["labels"].numpy()
        self.features_ = state["features"].numpy()


def genoVis(data, n_clusters=None, colNum=32, rowNum=32, batch_size=64, verbose=0,
            pretrain_epochs=100, maxiter=300, seed=0, **kwargs):
    """2-D embedding and clusters of the cells, as genomap 1.3.6's genoVis.

    Deep embedded clustering of the genomaps (:class:`GenoDEC`), then UMAP (30 neighbours,
    min_dist 0.3) of the learned features.

    Parameters
    ----------
    data : array-like, AnnData or str
        Cells x genes, any input :meth:`genomap_fast.Genomap.fit` accepts.
    n_clusters : int, optional
        Number of clusters; None estimates it.
    colNum, rowNum : int
        Grid shape.
    batch_size, pretrain_epochs, maxiter, seed
        As for :class:`GenoDEC`.
    verbose : int
        Progress bars when non-zero.
    **kwargs
        Passed to :class:`GenoDEC`.

    Returns
    -------
    embedding2D : numpy.ndarray of shape (n_cells, 2)
        float32 UMAP embedding.
    cluster_labels : numpy.ndarray of shape (n_cells,)
        int64 clusters.

    Examples
    --------
    >>> from genomap_fast.cnn import genoVis
    >>> from genomap_fast.datasets import synthetic_counts
    >>> X, _ = synthetic_counts(n_cells=60, n_genes=64, n_types=3, seed=0)
    >>> emb, labels = genoVis(X, n_clusters=3, rowNum=8, colNum=8, pretrain_epochs=1,
    ...                       maxiter=2)
    >>> emb.shape, emb.dtype, labels.shape
    ((60, 2), dtype('float32'), (60,))
    """
    from .embedding import start_umap_warmup, umap_2d

    start_umap_warmup()  # compiles UMAP on another core while the network trains (once)
    dec = GenoDEC(rowNum, colNum, n_clusters=n_clusters, batch_size=batch_size,
                  pretrain_epochs=pretrain_epochs, maxiter=maxiter, seed=seed,
                  progress=bool(verbose), **kwargs).fit(data)
    return umap_2d(dec.features_, seed), dec.labels_


def genoDR(data, n_dim=32, n_clusters=None, colNum=32, rowNum=32, batch_size=64, verbose=0,
           pretrain_epochs=100, maxiter=300, seed=0, **kwargs):
    """Features learned by deep embedded clustering of the genomaps, as genomap 1.3.6's genoDR.

    Parameters are those of :func:`genoVis`, plus ``n_dim`` (size of the features).

    Returns
    -------
    numpy.ndarray of shape (n_cells, n_dim)
        float32 features.

    Examples
    --------
    >>> from genomap_fast.cnn import genoDR
    >>> from genomap_fast.datasets import synthetic_counts
    >>> X, _ = synthetic_counts(n_cells=60, n_genes=64, n_types=3, seed=0)
    >>> genoDR(X, n_dim=8, n_clusters=3, rowNum=8, colNum=8, pretrain_epochs=1,
    ...        maxiter=2).shape
    (60, 8)
    """
    dec = GenoDEC(rowNum, colNum, n_clusters=n_clusters, n_dim=n_dim, batch_size=batch_size,
                  pretrain_epochs=pretrain_epochs, maxiter=maxiter, seed=seed,
                  progress=bool(verbose), **kwargs).fit(data)
    return dec.features_
