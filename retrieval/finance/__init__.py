"""Financial text toolkit: what a filing page is, which statements a question's metrics live on."""
