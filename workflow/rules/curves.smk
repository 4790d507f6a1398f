rule curves:
    input:
        trained_sidecars,
    output:
        csv=f"{RES}/curves.csv",
        plot=result(f"{RES}/curves.png", "curves_png", "learning curves"),
    log:
        f"{RES}/logs/curves.log",
    benchmark:
        f"{RES}/benchmarks/aggregate/curves.tsv"
    run:
        stdo_run(
            "curves",
            sidecar_paths=input,
            labels=[label for _, label in trained_models()],
            out_csv=output.csv,
            out_plot=output.plot,
            log=log[0],
        )
