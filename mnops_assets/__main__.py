from mnops_assets.cli import main

main()
