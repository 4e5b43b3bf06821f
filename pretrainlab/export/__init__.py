"""``pretrainlab export``: a trained model as a directory people can share (:mod:`.directory`), with a
generated model card (:mod:`.model_card`), optionally pushed to the Hugging Face Hub (:mod:`.push`)."""
