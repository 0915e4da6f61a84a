from webapp.cli import main

main(prog_name="webapp")
