rule aggregate:
    input:
        metrics=expand(rules.evaluate.output.metrics, video=config["videos"], scale=SCALES, method=ROWS, rate=RATES),
        hr=expand(rules.encode_hr.output.metrics, video=config["videos"], rate=HR_RATES),
        viewers=(
            expand(rules.segment.output.viewer, video=config["videos"], scale=SCALES, method=ROWS, rate=RATES[1:])
            if SEGMENT_SECONDS
            else []
        ),
    output:
        csv=f"{RES}/summary.csv",
        md=f"{RES}/summary.md",
        comparison=result(f"{RES}/comparison.md", "comparison_md", "comparison table (Markdown, download)"),
        plot=result(f"{RES}/psnr_vs_size.png", "psnr_vs_size", "PSNR vs delivered size"),
        rd_csv=f"{RES}/rd.csv",
        rd_plot=result(f"{RES}/rd_curves.png", "rd_curves", "rate-distortion curves"),
        categories_csv=f"{RES}/categories.csv",
        categories_md=result(f"{RES}/categories.md", "categories_md", "clips pooled per category (Markdown, download)"),
    log:
        f"{RES}/logs/aggregate.log",
    benchmark:
        f"{RES}/benchmarks/aggregate/summary.tsv"
    params:
        # the category is bookkeeping of this table only: changing it re-runs the aggregate, no clip's jobs
        cfg=lambda wc: as_json({"categories": {video: v["category"] for video, v in config["videos"].items()}}),
    run:
        stdo_run(
            "aggregate",
            metric_paths=input.metrics,
            hr_metric_paths=input.hr,
            viewer_paths=input.viewers,
            out_csv=output.csv,
            out_md=output.md,
            out_comparison=output.comparison,
            out_plot=output.plot,
            out_rd_csv=output.rd_csv,
            out_rd_plot=output.rd_plot,
            out_categories_csv=output.categories_csv,
            out_categories_md=output.categories_md,
            params=params.cfg,
            log=log[0],
        )
