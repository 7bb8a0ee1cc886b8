"""
genomap_fast C++ core: grid costs, interaction matrix, GW solvers, rasterisation
"""

from __future__ import annotations

import typing

import numpy
import numpy.typing

__all__: list[str] = [
    "AnnealResult",
    "CorrelationAccumulator",
    "EntropicResult",
    "ExactResult",
    "GridCost",
    "MultilevelResult",
    "SwapAnnealResult",
    "SwapResult",
    "TransportResult",
    "WithinClassResult",
    "anneal_schedule",
    "dense_grid",
    "euclidean_grid",
    "euclidean_linear_term",
    "euclidean_tiles",
    "linear_term_assignment",
    "multilevel_tiles",
    "objective_assignment",
    "place_within_classes",
    "radial_grid",
    "rasterize_csr",
    "rasterize_dense",
    "set_dgemm",
    "sinkhorn_classes",
    "solve_gw_anneal",
    "solve_gw_entropic",
    "solve_gw_exact",
    "solve_gw_multilevel",
    "solve_transport",
    "swap_anneal",
    "swap_local_search",
    "update_linear_term",
]

class ExactResult:
    """
    Exact GW placement (solve_gw_exact): read-only; arrays are read-only.
    """
    def __repr__(self) -> str: ...
    @property
    def assign(self) -> numpy.typing.NDArray[numpy.int64]:
        """
        (n,) int64: class of each gene, the lowest objective seen
        """
    @property
    def converged(self) -> bool:
        """
        stopped because an assignment repeated (fixed point or cycle), not at max_iter
        """
    @property
    def moved(self) -> numpy.typing.NDArray[numpy.int64]:
        """
        (n_iter - 1,) int64: genes that changed class at each step
        """
    @property
    def n_augment(self) -> int:
        """
        augmenting paths over all transport solves
        """
    @property
    def n_iter(self) -> int:
        """
        transport problems solved (the reference's GW iterations)
        """
    @property
    def objective(self) -> float:
        """
        KL-loss GW objective of `assign`
        """
    @property
    def potentials(self) -> numpy.typing.NDArray[numpy.float64]:
        """
        (n_classes,) float64: class potentials of the last transport solve
        """
    @property
    def scans(self) -> numpy.typing.NDArray[numpy.int64]:
        """
        (n_iter - 1,) int64: Dijkstra steps of each step's transport solve
        """
    @property
    def seconds(self) -> numpy.typing.NDArray[numpy.float64]:
        """
        (n_iter - 1,) float64: wall time of each step
        """
    @property
    def trace(self) -> numpy.typing.NDArray[numpy.float64]:
        """
        (n_iter - converged,) float64: objective of each assignment evaluated (a converged run's last solve repeated an earlier one)
        """

class MultilevelResult:
    """
    Coarse-to-fine exact GW placement (solve_gw_multilevel): the finest level's result with the levels' counts. Read-only; arrays are read-only.
    """
    def __repr__(self) -> str: ...
    @property
    def assign(self) -> numpy.typing.NDArray[numpy.int64]:
        """
        (n,) int64: pixel (class) of each gene
        """
    @property
    def converged(self) -> bool:
        """
        the pixel level stopped because an assignment repeated
        """
    @property
    def finest(self) -> ExactResult:
        """
        the iteration on the pixel grid
        """
    @property
    def finest_iter(self) -> int:
        """
        transport problems solved at the pixel level
        """
    @property
    def level_iter(self) -> numpy.typing.NDArray[numpy.int64]:
        """
        (levels,) int64: transport problems solved at each level
        """
    @property
    def level_seconds(self) -> numpy.typing.NDArray[numpy.float64]:
        """
        (levels,) float64: wall time of each level
        """
    @property
    def n_augment(self) -> int:
        """
        augmenting paths of the pixel level
        """
    @property
    def n_iter(self) -> int:
        """
        transport problems solved over all levels
        """
    @property
    def objective(self) -> float:
        """
        KL-loss GW objective of `assign`
        """
    @property
    def tiles(self) -> numpy.typing.NDArray[numpy.int64]:
        """
        (levels,) int64: tile size of each level, coarsest first, ending with 1
        """
    @property
    def trace(self) -> numpy.typing.NDArray[numpy.float64]:
        """
        (finest_iter - converged,) float64: objective of each pixel-level assignment
        """

class EntropicResult:
    """
    Entropic GW (solve_gw_entropic): read-only; arrays are read-only.
    """
    def __repr__(self) -> str: ...
    @property
    def coupling(self) -> numpy.typing.NDArray[numpy.float64]:
        """
        (n, n_classes) float64: the coupling summed over the pixels of each class
        """
    @property
    def last_change(self) -> float:
        """
        ||T - T_prev||_F (pixel level) at the last check
        """
    @property
    def n_iter(self) -> int:
        """
        GW steps taken
        """
    @property
    def objective(self) -> float:
        """
        KL-loss GW objective of the coupling
        """
    @property
    def sinkhorn_iters(self) -> int:
        """
        Sinkhorn iterations over all steps
        """

class WithinClassResult:
    """
    Pixels within classes (place_within_classes): read-only; arrays are read-only.
    """
    def __repr__(self) -> str: ...
    @property
    def euclidean_after(self) -> float:
        """
        2-D (euclidean) GW linear term after refinement
        """
    @property
    def euclidean_before(self) -> float:
        """
        2-D (euclidean) GW linear term before refinement (larger is better)
        """
    @property
    def pixel(self) -> numpy.typing.NDArray[numpy.int64]:
        """
        (n,) int64: flat pixel index (reference order) of each gene
        """
    @property
    def rounds(self) -> int:
        """
        refinement rounds that moved genes
        """

class TransportResult:
    """
    Exact class transport (solve_transport): read-only; arrays are read-only.
    """
    def __repr__(self) -> str: ...
    @property
    def assign(self) -> numpy.typing.NDArray[numpy.int64]:
        """
        (n,) int64: class (column) of each row
        """
    @property
    def cost(self) -> float:
        """
        sum_i cost[i, assign[i]]
        """
    @property
    def n_augment(self) -> int:
        """
        augmenting paths
        """
    @property
    def n_greedy(self) -> int:
        """
        rows assigned before any path search
        """
    @property
    def n_kept(self) -> int:
        """
        rows kept from `previous`
        """
    @property
    def n_scans(self) -> int:
        """
        Dijkstra steps over all paths
        """
    @property
    def potentials(self) -> numpy.typing.NDArray[numpy.float64]:
        """
        (D,) float64: class dual potentials (a warm start for a similar cost)
        """

class GridCost:
    """
    Pixel classes and class costs of a genomap grid.
    """
    @property
    def capacity(self) -> numpy.typing.NDArray[numpy.int64]: ...
    @property
    def class_cost(self) -> numpy.typing.NDArray[numpy.float64]: ...
    @property
    def class_of_pixel(self) -> numpy.typing.NDArray[numpy.int64]: ...
    @property
    def cols(self) -> int: ...
    @property
    def has_coarse_levels(self) -> bool: ...
    @property
    def log_cost(self) -> numpy.typing.NDArray[numpy.float64]: ...
    @property
    def log_cost_table(self) -> numpy.typing.NDArray[numpy.float64] | None:
        """
        FFT grids: the log-cost by displacement, (2 cols - 1, 2 rows - 1) float64, entry [dc + cols - 1, dr + rows - 1] for pixels dr rows and dc columns apart; None for grids without one.
        """
    @property
    def mean_cost(self) -> float: ...
    @property
    def metric(self) -> str: ...
    @property
    def n_classes(self) -> int: ...
    @property
    def n_used(self) -> int: ...
    @property
    def products(self) -> str:
        """
        How products with the log-cost are taken: 'blas' or 'fft'.
        """
    @property
    def rows(self) -> int: ...
    @property
    def stores_dense_cost(self) -> bool: ...
    @property
    def uses_fft(self) -> bool: ...

class CorrelationAccumulator:
    """
    Streaming float64 moments for the correlation distance.
    """
    def __getstate__(
        self,
    ) -> tuple[
        int,
        int,
        bool,
        numpy.typing.NDArray[numpy.float64],
        numpy.typing.NDArray[numpy.float64],
        numpy.typing.NDArray[numpy.float64],
    ]: ...
    def __init__(self, n_genes: typing.SupportsInt | typing.SupportsIndex) -> None: ...
    def __setstate__(self, arg0: tuple[typing.Any, ...]) -> None: ...
    def add_csr(
        self,
        indptr: numpy.typing.NDArray[typing.Any],
        indices: numpy.typing.NDArray[typing.Any],
        data: numpy.typing.NDArray[typing.Any],
        num_threads: int = 1,
    ) -> None:
        """
        Adds a CSR chunk (sorted unique column indices per row) without densifying it.
        """
    def add_csr_block(
        self,
        indptr: numpy.typing.NDArray[typing.Any],
        indices: numpy.typing.NDArray[typing.Any],
        data: numpy.typing.NDArray[typing.Any],
        num_threads: int = 1,
    ) -> None:
        """
        add_dense_block for a CSR chunk (sorted unique column indices per row).
        """
    def add_dense(
        self, chunk: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], num_threads: int = 1
    ) -> None: ...
    def add_dense_block(
        self, chunk: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], num_threads: int = 1
    ) -> None:
        """
        One step of the block fold: as merge(accumulator of this block alone).
        """
    def constant_genes(self) -> numpy.typing.NDArray[numpy.bool]: ...
    def copy(self) -> CorrelationAccumulator: ...
    def correlation_distance(self, num_threads: int = 1) -> numpy.typing.NDArray[numpy.float64]: ...
    def merge(self, other: CorrelationAccumulator) -> None: ...
    def moments(
        self, ddof: typing.SupportsInt | typing.SupportsIndex = 0
    ) -> tuple[numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64]]: ...
    def take_correlation_distance(
        self, num_threads: int = 1
    ) -> numpy.typing.NDArray[numpy.float64]:
        """
        Correlation distance computed in place; the accumulator is emptied (saves memory).
        """
    @property
    def count(self) -> int: ...
    @property
    def n_genes(self) -> int: ...

class AnnealResult:
    """
    Annealed GW placement (solve_gw_anneal): read-only; arrays read-only.
    """
    @property
    def assign(self) -> numpy.typing.NDArray[numpy.int64]:
        """
        (n,) int64: class of each gene, the best restart's
        """
    @property
    def best_restart(self) -> int:
        """
        index of the restart that gave `assign`
        """
    @property
    def coupling_objective(self) -> float:
        """
        best restart: objective of the last entropic coupling (entropic start)
        """
    @property
    def exact_iters(self) -> int:
        """
        exact transport steps, all restarts
        """
    @property
    def gw_steps(self) -> int:
        """
        entropic GW steps, all restarts
        """
    @property
    def objective(self) -> float:
        """
        KL-loss GW objective of `assign`
        """
    @property
    def restart_objectives(self) -> numpy.typing.NDArray[numpy.float64]:
        """
        (restarts,) float64: final objective of each restart
        """
    @property
    def rounded_objective(self) -> float:
        """
        best restart: objective after the start (rounding + exact polish)
        """
    @property
    def sa_accepted(self) -> int:
        """
        simulated-annealing proposals accepted, all restarts
        """
    @property
    def sa_proposals(self) -> int:
        """
        simulated-annealing proposals, all restarts
        """
    @property
    def sinkhorn_iters(self) -> int:
        """
        Sinkhorn scaling iterations, all restarts
        """
    @property
    def swaps(self) -> int:
        """
        pair swaps made by the swap descents, all restarts
        """

class SwapResult:
    """
    Pair-swap descent (swap_local_search): read-only.
    """
    @property
    def assign(self) -> numpy.typing.NDArray[numpy.int64]:
        """
        (n,) int64: class of each gene after the descent
        """
    @property
    def objective(self) -> float:
        """
        KL-loss GW objective of `assign`
        """
    @property
    def passes(self) -> int:
        """
        passes over the genes
        """
    @property
    def swaps(self) -> int:
        """
        swaps made
        """

class SwapAnnealResult:
    """
    Simulated annealing over pair swaps (swap_anneal): read-only.
    """
    @property
    def accepted(self) -> int:
        """
        swaps accepted
        """
    @property
    def assign(self) -> numpy.typing.NDArray[numpy.int64]:
        """
        (n,) int64: class of each gene, the best assignment visited
        """
    @property
    def class_major_proposals(self) -> int:
        """
        proposals scored on class-major class sums (the hot phase; see class_major_max_bytes)
        """
    @property
    def objective(self) -> float:
        """
        KL-loss GW objective of `assign`
        """
    @property
    def proposals(self) -> int:
        """
        swaps proposed
        """

def anneal_schedule(grid: GridCost, start: str) -> dict[str, typing.Any]:
    """
    The start- and grid-dependent part of the annealing schedule that runs (exact, entropic or multilevel start): the keywords solve_gw_anneal takes when not given.
    """

def dense_grid(
    cost: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    rows: typing.SupportsInt | typing.SupportsIndex,
    cols: typing.SupportsInt | typing.SupportsIndex,
) -> GridCost: ...
def euclidean_grid(
    rows: typing.SupportsInt | typing.SupportsIndex,
    cols: typing.SupportsInt | typing.SupportsIndex,
    n_used: typing.SupportsInt | typing.SupportsIndex,
    fft: bool = False,
) -> GridCost:
    """
    fft: GW products by 2-D FFT convolution instead of BLAS matrix products.
    """

def euclidean_linear_term(
    C1: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    rows: typing.SupportsInt | typing.SupportsIndex,
    cols: typing.SupportsInt | typing.SupportsIndex,
    pixel: typing.Annotated[numpy.typing.ArrayLike, numpy.int64],
    num_threads: int = 1,
) -> float: ...
def euclidean_tiles(
    rows: typing.SupportsInt | typing.SupportsIndex,
    cols: typing.SupportsInt | typing.SupportsIndex,
    n_used: typing.SupportsInt | typing.SupportsIndex,
    tile: typing.SupportsInt | typing.SupportsIndex,
    fft: bool = False,
) -> GridCost:
    """
    The euclidean grid in tile x tile pixel tiles (a coarse level of the multilevel solver).
    """

def linear_term_assignment(
    C1: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    grid: GridCost,
    assign: numpy.typing.NDArray[typing.Any],
    num_threads: int = 1,
) -> numpy.typing.NDArray[numpy.float64]:
    """
    (C1 @ S_assign) @ log(C2): the GW linear term of an assignment (genes x classes).
    """

def multilevel_tiles(
    rows: typing.SupportsInt | typing.SupportsIndex,
    cols: typing.SupportsInt | typing.SupportsIndex,
    n_used: typing.SupportsInt | typing.SupportsIndex,
    min_tiles: typing.SupportsInt | typing.SupportsIndex = 256,
    max_levels: typing.SupportsInt | typing.SupportsIndex = 4,
) -> numpy.typing.NDArray[numpy.int64]: ...
def objective_assignment(
    C1: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    grid: GridCost,
    assign: numpy.typing.NDArray[typing.Any],
    num_threads: int = 1,
) -> float: ...
def place_within_classes(
    C1: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    grid: GridCost,
    assign: numpy.typing.NDArray[typing.Any],
    max_rounds: typing.SupportsInt | typing.SupportsIndex = 10,
    num_threads: int = 1,
) -> WithinClassResult: ...
def radial_grid(
    rows: typing.SupportsInt | typing.SupportsIndex,
    cols: typing.SupportsInt | typing.SupportsIndex,
    n_used: typing.SupportsInt | typing.SupportsIndex,
) -> GridCost: ...
def rasterize_csr(
    indptr: numpy.typing.NDArray[typing.Any],
    indices: numpy.typing.NDArray[typing.Any],
    data: numpy.typing.NDArray[typing.Any],
    dest: typing.Annotated[numpy.typing.ArrayLike, numpy.int64],
    scale: typing.SupportsFloat | typing.SupportsIndex,
    out: numpy.typing.NDArray[typing.Any],
    num_threads: int = 1,
) -> int:
    """
    CSR rows rasterised without densifying: out[c, dest[j]] = data * scale. Returns the first cell with a NaN/inf value, or -1.
    """

def rasterize_dense(
    x: numpy.typing.NDArray[typing.Any],
    dest: typing.Annotated[numpy.typing.ArrayLike, numpy.int64],
    scale: typing.SupportsFloat | typing.SupportsIndex,
    out: numpy.typing.NDArray[typing.Any],
    num_threads: int = 1,
) -> int:
    """
    out[c, dest[g]] = x[c, g] * scale for every placed gene; other pixels are zero. Returns the first cell with a NaN/inf value, or -1.
    """

def set_dgemm(address: typing.SupportsInt | typing.SupportsIndex) -> None:
    """
    Use the Fortran-ABI dgemm at this address (SciPy's BLAS) for dense products; 0 disables.
    """

def sinkhorn_classes(
    M: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    capacity: typing.Annotated[numpy.typing.ArrayLike, numpy.int64],
    reg: typing.SupportsFloat | typing.SupportsIndex,
    max_iter: typing.SupportsInt | typing.SupportsIndex = 1000,
    stop_thr: typing.SupportsFloat | typing.SupportsIndex = 1e-09,
    num_threads: int = 1,
) -> tuple[numpy.typing.NDArray[numpy.float64], int, float]:
    """
    POT's sinkhorn_knopp iteration on genes x classes (uniform 1/n per gene and per pixel), log-stabilised; returns (class coupling, iterations, marginal error).
    """

def solve_gw_anneal(
    C1: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    grid: GridCost,
    entropic_start: bool = False,
    multilevel_start: bool = False,
    *,
    multilevel_tile: typing.SupportsInt | typing.SupportsIndex | None = None,
    eps_start: typing.SupportsFloat | typing.SupportsIndex | None = None,
    eps_end: typing.SupportsFloat | typing.SupportsIndex | None = None,
    decay: typing.SupportsFloat | typing.SupportsIndex | None = None,
    steps_per_eps: typing.SupportsInt | typing.SupportsIndex | None = None,
    sinkhorn_iter: typing.SupportsInt | typing.SupportsIndex | None = None,
    sinkhorn_tol: typing.SupportsFloat | typing.SupportsIndex | None = None,
    polish_iter: typing.SupportsInt | typing.SupportsIndex | None = None,
    swap_rounds: typing.SupportsInt | typing.SupportsIndex | None = None,
    swap_passes: typing.SupportsInt | typing.SupportsIndex | None = None,
    swap_max_work: typing.SupportsFloat | typing.SupportsIndex | None = None,
    sa_sweeps: typing.SupportsFloat | typing.SupportsIndex | None = None,
    sa_max_work: typing.SupportsFloat | typing.SupportsIndex | None = None,
    sa_t_start: typing.SupportsFloat | typing.SupportsIndex | None = None,
    sa_t_end: typing.SupportsFloat | typing.SupportsIndex | None = None,
    sa_neighbours: typing.SupportsInt | typing.SupportsIndex | None = None,
    restarts: typing.SupportsInt | typing.SupportsIndex | None = None,
    seed: typing.SupportsInt | typing.SupportsIndex | None = None,
    noise: typing.SupportsFloat | typing.SupportsIndex | None = None,
    num_threads: int = 1,
) -> AnnealResult:
    """
    Annealed GW placement: a start, pair swaps, simulated annealing, restarts. Options not given take the schedule that runs (anneal_schedule, AnnealOptions in anneal.hpp).
    """

def solve_gw_entropic(
    C1: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    grid: GridCost,
    epsilon: typing.SupportsFloat | typing.SupportsIndex,
    max_iter: typing.SupportsInt | typing.SupportsIndex,
    tol: typing.SupportsFloat | typing.SupportsIndex = 1e-09,
    num_threads: int = 1,
) -> EntropicResult:
    """
    Entropic GW (the reference loop, log-domain Sinkhorn): class coupling (genes x classes).
    """

def solve_gw_exact(
    C1: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    grid: GridCost,
    max_iter: typing.SupportsInt | typing.SupportsIndex,
    num_threads: int = 1,
) -> ExactResult:
    """
    Exact GW placement (epsilon = 0): class of each gene, objective, iterations.
    """

def solve_gw_multilevel(
    C1: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    grid: GridCost,
    max_iter: typing.SupportsInt | typing.SupportsIndex,
    num_threads: int = 1,
    min_tiles: typing.SupportsInt | typing.SupportsIndex = 256,
    max_levels: typing.SupportsInt | typing.SupportsIndex = 4,
) -> MultilevelResult:
    """
    Exact GW placement on a euclidean grid, coarse to fine: tiles of 2^L .. 1 pixels.
    """

def solve_transport(
    cost: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    capacity: typing.Annotated[numpy.typing.ArrayLike, numpy.int64],
    potentials: typing.Any = None,
    previous: typing.Any = None,
) -> TransportResult:
    """
    Exact transport of unit rows to capacitated columns: the column of each row, the cost, the dual potentials and work counters.
    """

def swap_anneal(
    C1: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    grid: GridCost,
    assign: numpy.typing.NDArray[typing.Any],
    proposals: typing.SupportsInt | typing.SupportsIndex,
    t_start: typing.SupportsFloat | typing.SupportsIndex = 0.1,
    t_end: typing.SupportsFloat | typing.SupportsIndex = 0.001,
    seed: typing.SupportsInt | typing.SupportsIndex = 0,
    num_threads: int = 1,
    neighbours: typing.SupportsInt | typing.SupportsIndex = 0,
    gather_min_genes: typing.SupportsInt | typing.SupportsIndex = 4097,
    lookup_min_genes: typing.SupportsInt | typing.SupportsIndex = 2049,
    class_major_max_bytes: typing.SupportsInt | typing.SupportsIndex = 16777216,
) -> SwapAnnealResult:
    """
    Simulated annealing over pair swaps from a feasible assignment: SwapAnnealResult.
    """

def swap_local_search(
    C1: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    grid: GridCost,
    assign: numpy.typing.NDArray[typing.Any],
    max_passes: typing.SupportsInt | typing.SupportsIndex = 50,
    num_threads: int = 1,
) -> SwapResult:
    """
    Pair-swap descent of the GW objective from a feasible assignment: SwapResult.
    """

def update_linear_term(
    C1: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    grid: GridCost,
    had: numpy.typing.NDArray[typing.Any],
    assign: numpy.typing.NDArray[typing.Any],
    A: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    num_threads: int = 1,
) -> numpy.typing.NDArray[numpy.float64]:
    """
    The linear term of `assign` from A, the linear term of `had`, by the moved genes only.
    """

__version__: str
